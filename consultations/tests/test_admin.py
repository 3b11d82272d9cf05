"""Consultation admin: pages load, writes and status actions go through the audited services."""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditEvent
from consultations.models import Consultation


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "s3nha-forte-123")
    client.force_login(user)
    client.user = user
    return client


def test_it_loads_the_changelist_filtered_and_searched(admin_client, consultation, outsider_consultation):
    assert admin_client.get("/admin/consultations/consultation/").status_code == 200
    res = admin_client.get("/admin/consultations/consultation/", {"status__exact": "waiting", "q": "Maria"})
    assert list(res.context["cl"].result_list) == [consultation]


def test_it_loads_the_add_page(admin_client, alice, patient):
    assert admin_client.get("/admin/consultations/consultation/add/").status_code == 200


def test_it_records_a_view_and_keeps_status_read_only(admin_client, consultation):
    res = admin_client.get(f"/admin/consultations/consultation/{consultation.pk}/change/")
    assert res.status_code == 200
    assert "status" not in res.context["adminform"].form.fields
    event = AuditEvent.objects.get(action="consultation.viewed")
    assert event.extra == {"via": "admin"} and event.actor == admin_client.user


def test_it_creates_a_consultation_through_the_service(admin_client, alice, patient):
    when = timezone.localtime() + timedelta(days=1)
    res = admin_client.post(
        "/admin/consultations/consultation/add/",
        {
            "patient": patient.pk,
            "doctor": alice.pk,
            "type": "online",
            "scheduled_for_0": when.strftime("%d/%m/%Y"),
            "scheduled_for_1": when.strftime("%H:%M:%S"),
            "chief_complaint": "Febre",
        },
    )
    assert res.status_code == 302, res.context["adminform"].form.errors if res.context else res
    c = Consultation.objects.get()
    assert (c.clinic, c.status, c.chief_complaint) == (alice.clinic, "waiting", "Febre")
    assert AuditEvent.objects.get(action="consultation.created").actor == admin_client.user


def test_it_refuses_a_patient_of_another_clinic(admin_client, alice, outsider_patient):
    when = timezone.localtime() + timedelta(days=1)
    res = admin_client.post(
        "/admin/consultations/consultation/add/",
        {
            "patient": outsider_patient.pk,
            "doctor": alice.pk,
            "type": "online",
            "scheduled_for_0": when.strftime("%d/%m/%Y"),
            "scheduled_for_1": when.strftime("%H:%M:%S"),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert res.status_code == 200
    assert res.context["adminform"].form.errors["patient"] == ["Patient not found in this clinic."]
    assert not Consultation.objects.exists()


def test_it_updates_through_the_service(admin_client, consultation):
    when = timezone.localtime(consultation.scheduled_for)
    res = admin_client.post(
        f"/admin/consultations/consultation/{consultation.pk}/change/",
        {
            "type": "in_person",
            "scheduled_for_0": when.strftime("%d/%m/%Y"),
            "scheduled_for_1": when.strftime("%H:%M:%S"),
            "chief_complaint": consultation.chief_complaint,
            "notes": "Retorno",
        },
    )
    assert res.status_code == 302, res.context["adminform"].form.errors if res.context else res
    consultation.refresh_from_db()
    assert (consultation.type, consultation.notes) == ("in_person", "Retorno")
    assert AuditEvent.objects.get(action="consultation.updated").extra == {"fields": ["notes", "type"]}


def test_it_moves_status_with_admin_actions(admin_client, consultation, ctx_system, alice, patient):
    from consultations.services import consultation_create

    other = consultation_create(ctx=ctx_system, doctor=alice, patient=patient, scheduled_for=timezone.now())
    url = "/admin/consultations/consultation/"
    res = admin_client.post(url, {"action": "start_consultations", "_selected_action": [consultation.pk]}, follow=True)
    assert res.status_code == 200
    consultation.refresh_from_db()
    assert consultation.status == "in_progress" and consultation.started_at is not None

    # One legal and one illegal move in the same batch: the legal one happens, the other is reported.
    res = admin_client.post(
        url,
        {"action": "complete_consultations", "_selected_action": [consultation.pk, other.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    consultation.refresh_from_db()
    other.refresh_from_db()
    assert consultation.status == "completed" and other.status == "waiting"
    texts = [str(m) for m in res.context["messages"]]
    assert any(f"#{other.pk}" in t and "cannot move" in t for t in texts)
    assert any("1 consultation moved" in t for t in texts)
    moves = AuditEvent.objects.filter(action="consultation.status_changed", actor=admin_client.user)
    assert moves.count() == 2


def test_it_offers_no_delete(admin_client, consultation):
    assert admin_client.get(f"/admin/consultations/consultation/{consultation.pk}/delete/").status_code == 403
    res = admin_client.get("/admin/consultations/consultation/")
    assert "delete_selected" not in dict(res.context["action_form"].fields["action"].choices)


def test_it_audits_the_consultations_a_change_list_showed(admin_client, consultation, outsider_consultation):
    admin_client.get("/admin/consultations/consultation/", {"q": "Maria"})
    event = AuditEvent.objects.get(action="consultation.listed")
    assert (event.actor, event.clinic_id, event.target_type) == (
        admin_client.user, consultation.clinic_id, "consultations.consultation"
    )
    assert event.extra == {"via": "admin", "count": 1, "ids": [consultation.pk]}
