from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consultations.models import Consultation
from consultations.services import consultation_transition

CREATE_URL = "/consultations/new/"


def edit_url(consultation):
    return f"/consultations/{consultation.pk}/edit/"


def local(value: str):
    return timezone.make_aware(datetime.strptime(value, "%Y-%m-%dT%H:%M"))


def field_errors(response, field):
    return response.context["form"].errors.get(field, [])


def test_it_offers_only_the_clinics_patients(alice_client, patient, outsider_patient):
    response = alice_client.get(CREATE_URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["form"].fields["patient"].queryset) == [patient]
    assert "Maria da Silva — 529.982.247-25" in body
    assert "José Externo" not in body
    assert 'type="datetime-local"' in body


def test_it_preselects_the_patient_when_coming_from_the_patient_page(alice_client, patient):
    response = alice_client.get(CREATE_URL, {"patient": patient.pk})
    assert response.context["form"]["patient"].value() == patient.pk
    assert f'<option value="{patient.pk}" selected>' in response.content.decode()


@pytest.mark.parametrize("value", ["outsider", "999999", "abc"])
def test_it_is_404_to_preselect_a_patient_outside_the_clinic(alice_client, outsider_patient, value):
    pk = outsider_patient.pk if value == "outsider" else value
    assert alice_client.get(CREATE_URL, {"patient": pk}).status_code == 404


def test_it_sends_a_doctor_without_patients_to_register_one_first(alice_client):
    body = alice_client.get(CREATE_URL).content.decode()
    assert "Sua clínica ainda não tem pacientes." in body
    assert 'href="/patients/new/"' in body


def test_it_schedules_a_consultation_and_audits_it(alice_client, alice, patient):
    response = alice_client.post(
        CREATE_URL,
        {"patient": patient.pk, "type": "in_person", "scheduled_for": "2031-05-20T14:30", "chief_complaint": " Febre "},
    )
    consultation = Consultation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/consultations/{consultation.pk}/"
    assert consultation.doctor == alice and consultation.clinic == alice.clinic and consultation.patient == patient
    assert consultation.type == "in_person" and consultation.status == "waiting"
    assert consultation.scheduled_for == local("2031-05-20T14:30")
    assert consultation.chief_complaint == "Febre"
    event = AuditEvent.objects.get(action="consultation.created")
    assert event.actor == alice.user and event.target_id == str(consultation.pk)


def test_it_refuses_another_clinics_patient_and_writes_nothing(alice_client, outsider_patient):
    response = alice_client.post(CREATE_URL, {"patient": outsider_patient.pk, "type": "online", "scheduled_for": "2031-05-20T14:30"})
    assert response.status_code == 200
    assert field_errors(response, "patient") == ["Escolha na lista um(a) paciente da sua clínica."]
    assert not Consultation.objects.exists()
    assert not AuditEvent.objects.filter(action="consultation.created").exists()


@pytest.mark.parametrize(
    "changes, field",
    [({"scheduled_for": ""}, "scheduled_for"), ({"scheduled_for": "amanhã"}, "scheduled_for"), ({"type": "phone"}, "type")],
)
def test_it_shows_field_errors_and_writes_nothing(alice_client, patient, changes, field):
    data = {"patient": patient.pk, "type": "online", "scheduled_for": "2031-05-20T14:30", **changes}
    response = alice_client.post(CREATE_URL, data)
    assert response.status_code == 200
    assert field_errors(response, field)
    assert "Nada foi salvo." in response.content.decode()
    assert not Consultation.objects.exists()


def test_it_prefills_and_saves_edits_with_an_audit_row(alice_client, alice, consultation):
    response = alice_client.get(edit_url(consultation))
    assert 'value="Dor de cabeça"' in response.content.decode()
    response = alice_client.post(
        edit_url(consultation),
        {"type": "online", "scheduled_for": "2031-06-01T09:00", "chief_complaint": "Dor de cabeça", "notes": "Pressão 12x8"},
    )
    assert response.status_code == 302
    consultation.refresh_from_db()
    assert consultation.scheduled_for == local("2031-06-01T09:00")
    assert consultation.notes == "Pressão 12x8"
    event = AuditEvent.objects.get(action="consultation.updated")
    assert event.actor == alice.user and event.extra == {"fields": ["notes", "scheduled_for"]}


def test_it_refuses_to_reschedule_a_closed_consultation(alice_client, consultation, ctx_system):
    consultation_transition(ctx=ctx_system, consultation=consultation, to="cancelled")
    before = consultation.scheduled_for
    new_time = timezone.localtime(before + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = alice_client.post(edit_url(consultation), {"type": "online", "scheduled_for": new_time, "chief_complaint": ""})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Uma consulta concluída ou cancelada não pode ser remarcada."]
    consultation.refresh_from_db()
    assert consultation.scheduled_for == before and consultation.chief_complaint == "Dor de cabeça"
    assert not AuditEvent.objects.filter(action="consultation.updated").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_is_404_to_edit_another_clinics_consultation(charlie_client, consultation, method):
    response = getattr(charlie_client, method)(edit_url(consultation), {"type": "online", "scheduled_for": "2031-06-01T09:00"})
    assert response.status_code == 404
    consultation.refresh_from_db()
    assert consultation.chief_complaint == "Dor de cabeça"


def test_it_refuses_delete_method_on_forms(alice_client, consultation):
    assert alice_client.delete(CREATE_URL).status_code == 405
    assert alice_client.delete(edit_url(consultation)).status_code == 405
