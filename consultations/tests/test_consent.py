"""Consent (CFM 2.314/2022, LGPD): recorded by the patient through the link or by the doctor through
the API, with text version, time, IP and user agent; audited; readable by the clinic only."""
import pytest

from audit.models import AuditEvent
from consultations.models import ConsentRecord
from consultations.selectors import transcription_consented

pytestmark = pytest.mark.django_db

API = "/api/v1/consultations/{}/consent/"


def _patient_url(consultation, ctx_system, suffix="consent/"):
    from consultations.services import consultation_link_issue, patient_link_token

    link = consultation_link_issue(ctx=ctx_system, consultation=consultation)
    return f"/p/{patient_link_token(link)}/{suffix}"


def test_it_records_the_patients_consent_with_version_time_ip_and_user_agent(client, consultation, ctx_system, settings):
    settings.CONSENT_TEXT_VERSION = "v-test-1"
    url = _patient_url(consultation, ctx_system)
    response = client.post(
        url, {"teleconsultation": "yes", "transcription": "yes"}, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)", REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 302 and response["Location"].endswith("/room/")
    record = ConsentRecord.objects.get(consultation=consultation)
    assert record.teleconsultation and record.transcription
    assert record.text_version == "v-test-1"
    assert record.channel == "patient_link" and record.recorded_by is None
    assert record.ip == "203.0.113.9" and record.user_agent == "Mozilla/5.0 (iPhone)"
    assert record.given_at is not None
    event = AuditEvent.objects.get(action="consent.recorded", target_id=str(consultation.pk))
    assert event.actor is None and event.actor_label == "patient-link"
    assert event.extra["teleconsultation"] is True and event.extra["text_version"] == "v-test-1"
    assert transcription_consented(consultation_id=consultation.pk)


def test_it_lets_the_patient_decline_transcription_and_still_join(client, consultation, ctx_system):
    url = _patient_url(consultation, ctx_system)
    response = client.post(url, {"teleconsultation": "yes"})
    assert response.status_code == 302
    record = ConsentRecord.objects.get(consultation=consultation)
    assert record.teleconsultation and not record.transcription
    assert not transcription_consented(consultation_id=consultation.pk)
    assert client.get(response["Location"]).status_code == 200  # the room page opens


def test_it_explains_that_teleconsultation_consent_is_needed_to_go_on(client, consultation, ctx_system):
    url = _patient_url(consultation, ctx_system)
    response = client.post(url, {"transcription": "yes"})
    assert response.status_code == 400
    assert "consulta presencial" in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_it_records_consent_given_in_person_through_the_api(alice_client, consultation, alice):
    response = alice_client.post(
        API.format(consultation.pk), {"teleconsultation": True, "transcription": False}, content_type="application/json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["teleconsultation"] is True and body["transcription"] is False
    assert body["channel"] == "doctor" and body["recorded_by"] == "alice"
    record = ConsentRecord.objects.get(pk=body["id"])
    assert record.recorded_by == alice.user and record.ip == "127.0.0.1"
    event = AuditEvent.objects.get(action="consent.recorded")
    assert event.actor == alice.user and event.extra["channel"] == "doctor"


def test_it_lists_the_consultations_consent_records_newest_first(alice_client, consultation, ctx_system, client):
    from consultations.room_services import consent_record

    consent_record(ctx=ctx_system, consultation=consultation, teleconsultation=True, transcription=True, channel="patient_link")
    consent_record(ctx=ctx_system, consultation=consultation, teleconsultation=True, transcription=False, channel="patient_link")
    response = alice_client.get(API.format(consultation.pk))
    assert response.status_code == 200
    assert [r["transcription"] for r in response.json()] == [False, True]
    assert AuditEvent.objects.filter(action="consultation.viewed", extra__via="api-consent").count() == 1
    # The newest record is the one in force: transcription was withdrawn.
    assert not transcription_consented(consultation_id=consultation.pk)


def test_it_validates_the_api_body(alice_client, consultation):
    response = alice_client.post(API.format(consultation.pk), {"teleconsultation": "maybe"}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"teleconsultation", "transcription"}
    assert not ConsentRecord.objects.exists()


def test_it_hides_other_clinics_consent_and_refuses_anonymous(charlie_client, consultation):
    assert charlie_client.get(API.format(consultation.pk)).status_code == 404
    assert charlie_client.post(
        API.format(consultation.pk), {"teleconsultation": True, "transcription": True}, content_type="application/json"
    ).status_code == 404
    from django.test import Client

    assert Client().get(API.format(consultation.pk)).status_code in (401, 403)
    assert not ConsentRecord.objects.exists()
