"""Room pages: the doctor's room (own consultation only, audited read), the patient's consent /
room / end pages by link state, LiveKit token endpoints, and the entry from the detail page."""
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from consultations.models import CallSession, PatientLink

pytestmark = pytest.mark.django_db

KEY, SECRET = "APIviewtests", "view-tests-secret-long-enough-for-hs256-signing"


@pytest.fixture
def link_token(consultation, ctx_system):
    from consultations.services import consultation_link_issue, patient_link_token

    return patient_link_token(consultation_link_issue(ctx=ctx_system, consultation=consultation))


@pytest.fixture
def consented(consultation, ctx_system):
    from consultations.room_services import consent_record

    return consent_record(ctx=ctx_system, consultation=consultation, teleconsultation=True, transcription=True, channel="patient_link")


def test_it_shows_the_doctor_the_room_with_presence_and_audits_the_read(alice_client, consultation):
    response = alice_client.get(f"/consultations/{consultation.pk}/room/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="room-config"' in html and f"/ws/consultations/{consultation.pk}/signal/" in html
    assert "Admitir paciente" in html and "Encerrar chamada" in html
    assert AuditEvent.objects.filter(action="consultation.viewed", extra__via="room").count() == 1


def test_it_keeps_other_doctors_out_of_the_room(client, consultation, bob, charlie):
    client.force_login(charlie.user)
    assert client.get(f"/consultations/{consultation.pk}/room/").status_code == 404
    client.force_login(bob.user)
    response = client.get(f"/consultations/{consultation.pk}/room/")
    assert response.status_code == 403
    assert "Alice Souza" in response.content.decode()
    assert client.post(f"/consultations/{consultation.pk}/room/token/").status_code == 404


def test_it_links_the_consultation_page_to_the_room(alice_client, consultation):
    html = alice_client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert f'href="/consultations/{consultation.pk}/room/"' in html


def test_it_asks_for_consent_before_the_room_and_marks_the_link_opened(client, consultation, link_token):
    response = client.get(f"/p/{link_token}/room/")
    assert response.status_code == 302 and response["Location"].endswith("/consent/")
    response = client.get(f"/p/{link_token}/consent/")
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    html = response.content.decode()
    assert "Alice Souza" in html and "Clínica Boa Saúde" in html
    assert "Maria da Silva" not in html  # only what the link holder needs to see
    assert CallSession.objects.get(consultation=consultation).patient_presence == "opened"
    assert AuditEvent.objects.filter(action="patient_link.opened").exists()


def test_it_opens_the_patient_room_with_the_pre_call_check(client, consultation, link_token, consented):
    response = client.get(f"/p/{link_token}/room/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="join"' in html and "Confira" in html and 'id="mic-level"' in html
    assert "Aguardando o(a) Dr(a). Alice Souza" in html
    assert link_token in html  # the socket authenticates with it
    assert "livekit-client" not in html  # p2p by default: no LiveKit script


@pytest.mark.parametrize("state,status", [("expired", 410), ("replaced", 410), ("tampered", 404)])
def test_it_refuses_dead_links_on_patient_pages(client, consultation, link_token, consented, state, status):
    token = link_token
    if state == "expired":
        PatientLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    elif state == "replaced":
        PatientLink.objects.update(revoked_at=timezone.now(), revoked_reason="replaced")
    else:
        token = link_token[:-3] + "abc"
    for page in ("consent/", "room/"):
        assert client.get(f"/p/{token}/{page}").status_code == status


def test_it_shows_the_end_page_after_the_consultation_completed(client, consultation, link_token, ctx_system):
    from consultations.services import consultation_transition

    consultation_transition(ctx=ctx_system, consultation=consultation, to="in_progress")
    consultation_transition(ctx=ctx_system, consultation=consultation, to="completed")
    response = client.get(f"/p/{link_token}/room/")
    assert response.status_code == 302 and response["Location"].endswith("/end/")
    end = client.get(f"/p/{link_token}/end/")
    assert end.status_code == 200 and "Sua consulta foi encerrada" in end.content.decode()


def test_it_gives_livekit_tokens_to_the_doctor_and_to_an_admitted_patient_only(
    alice_client, client, consultation, link_token, consented, settings, ctx_alice
):
    from consultations.room_services import call_admit

    settings.LIVEKIT_URL = "http://127.0.0.1:7880"
    settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = KEY, SECRET
    doctor = alice_client.post(f"/consultations/{consultation.pk}/room/token/", HTTP_HOST="clinic.example.org", HTTP_X_FORWARDED_PROTO="https")
    assert doctor.status_code == 200
    assert doctor.json()["url"] == "wss://clinic.example.org/lk"
    assert doctor.json()["identity"] == f"doctor-{consultation.doctor_id}"

    assert client.post(f"/p/{link_token}/room/token/").status_code == 403  # still in the waiting room
    call_admit(ctx=ctx_alice, consultation=consultation)
    patient = client.post(f"/p/{link_token}/room/token/")
    assert patient.status_code == 200 and patient.json()["identity"] == f"patient-{consultation.pk}"
    page = client.get(f"/p/{link_token}/room/").content.decode()
    assert "vendor/livekit-client-2.23.0/livekit-client.umd.js" in page


def test_it_refuses_admission_without_teleconsultation_consent(consultation, ctx_alice):
    from consultations.room_services import RoomActionRefused, call_admit

    with pytest.raises(RoomActionRefused) as refused:
        call_admit(ctx=ctx_alice, consultation=consultation)
    assert refused.value.code == "no_consent"
    assert not AuditEvent.objects.filter(action="call.admitted").exists()
