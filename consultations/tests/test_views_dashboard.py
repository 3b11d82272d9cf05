from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consultations.services import consultation_create, consultation_transition


@pytest.fixture
def noon_today():
    return timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def schedule(alice, patient, ctx_system):
    def make(when, complaint):
        return consultation_create(ctx=ctx_system, doctor=alice, patient=patient, scheduled_for=when, chief_complaint=complaint)

    return make


def test_it_shows_todays_and_upcoming_consultations_linking_to_them(alice_client, schedule, noon_today):
    today = schedule(noon_today, "Retorno de exames")
    later = schedule(noon_today + timedelta(days=3), "Dor lombar")
    schedule(noon_today - timedelta(days=2), "Consulta antiga")
    response = alice_client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["today"]) == [today]
    assert list(response.context["upcoming"]) == [later]
    assert f'href="/consultations/{today.pk}/"' in body
    assert f'href="/consultations/{later.pk}/"' in body
    assert "Consulta antiga" not in body


def test_it_leaves_cancelled_future_consultations_out_of_upcoming(alice_client, schedule, noon_today, ctx_system):
    later = schedule(noon_today + timedelta(days=3), "Dor lombar")
    consultation_transition(ctx=ctx_system, consultation=later, to="cancelled")
    assert list(alice_client.get("/").context["upcoming"]) == []


def test_it_offers_a_prominent_new_consultation_action(alice_client):
    body = alice_client.get("/").content.decode()
    assert 'class="btn btn-primary btn-large" href="/consultations/new/">Nova consulta</a>' in body


def test_it_does_not_show_another_clinics_consultations(charlie_client, consultation, outsider_consultation):
    response = charlie_client.get("/")
    shown = list(response.context["today"]) + list(response.context["upcoming"])
    assert consultation not in shown
    assert "Maria da Silva" not in response.content.decode()


def test_it_shows_empty_states(alice_client):
    body = alice_client.get("/").content.decode()
    assert "Nenhuma consulta marcada para hoje." in body


def test_it_refuses_post(alice_client):
    assert alice_client.post("/").status_code == 405


def test_it_audits_the_consultations_it_showed(alice_client, alice, schedule, noon_today):
    today = schedule(noon_today, "Retorno de exames")
    later = schedule(noon_today + timedelta(days=3), "Dor lombar")
    schedule(noon_today - timedelta(days=2), "Consulta antiga")
    alice_client.get("/")
    event = AuditEvent.objects.get(action="consultation.listed")
    assert event.actor == alice.user and event.clinic_id == alice.clinic_id
    assert event.extra == {"via": "dashboard", "count": 2, "ids": [today.pk, later.pk]}
    assert "Dor" not in str(event.extra)


def test_it_records_nothing_when_the_dashboard_is_empty(alice_client, alice):
    assert alice_client.get("/").status_code == 200
    assert not AuditEvent.objects.filter(action="consultation.listed").exists()
