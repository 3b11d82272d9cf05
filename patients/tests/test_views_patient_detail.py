import pytest

from audit.models import AuditEvent


def url(patient):
    return f"/patients/{patient.pk}/"


def test_it_shows_the_patient_and_consultation_history(alice_client, patient, consultation):
    response = alice_client.get(url(patient))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Maria da Silva" in body
    assert "529.982.247-25" in body
    assert f"/consultations/{consultation.pk}/" in body
    assert "Dor de cabeça" in body
    assert f"/consultations/new/?patient={patient.pk}" in body


def test_it_records_the_read_in_the_audit_trail(alice_client, alice, patient):
    alice_client.get(url(patient), HTTP_USER_AGENT="Firefox-test")
    event = AuditEvent.objects.get(action="patient.viewed")
    assert event.actor == alice.user
    assert event.target_type == "patients.patient"
    assert event.target_id == str(patient.pk)
    assert event.clinic == patient.clinic
    assert event.extra == {"via": "web"}
    assert event.user_agent == "Firefox-test"


def test_it_shows_colleagues_the_same_clinic_patients(client, bob, patient):
    client.force_login(bob.user)
    assert client.get(url(patient)).status_code == 200


def test_it_is_404_for_another_clinics_patient_and_records_nothing(charlie_client, patient):
    response = charlie_client.get(url(patient))
    assert response.status_code == 404
    assert "Maria" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="patient.viewed").exists()


def test_it_is_404_for_an_unknown_id(alice_client):
    assert alice_client.get("/patients/999999/").status_code == 404


@pytest.mark.parametrize("method", ["post", "delete"])
def test_it_refuses_mutating_methods(alice_client, patient, method):
    assert getattr(alice_client, method)(url(patient)).status_code == 405
