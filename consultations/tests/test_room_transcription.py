"""The live transcription on the doctor's room page, server side: the consent state the page starts
from, the transcript panel (an audited read) and the config static/js/room/transcription.js reads.
The browser side is in test_e2e_room_transcription.py."""
import json
import re

import pytest

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _config(html: str) -> dict:
    match = re.search(r'<script id="transcription-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the room page carries the transcription config"
    return json.loads(match.group(1))


def _status(html: str) -> tuple[str, str]:
    match = re.search(r'<p class="transcription-status" id="transcription-status"[^>]*data-state="([a-z_]+)">([^<]*)</p>',
                      html, re.S)
    assert match, "the room page shows the transcription status"
    return match.group(1), match.group(2).strip()


def _consent(consultation, ctx, *, transcription: bool):
    from consultations.room_services import consent_record

    return consent_record(ctx=ctx, consultation=consultation, teleconsultation=True, transcription=transcription,
                          channel="patient_link")


def test_it_prepares_the_transcription_when_the_patient_consented(alice_client, consultation, ctx_system):
    _consent(consultation, ctx_system, transcription=True)
    html = alice_client.get(f"/consultations/{consultation.pk}/room/").content.decode()
    config = _config(html)
    assert config["consented"] is True and config["open"] is True
    assert config["consultation_id"] == consultation.pk
    assert config["worklet_url"].endswith("/js/audio/pcm16k-worklet.js")
    assert config["texts"]["no_consent"] == "Transcrição desligada: o paciente não consentiu"
    assert config["texts"]["on"] == "Transcrição ativa"
    assert _status(html) == ("waiting", "A transcrição começa quando a chamada se conectar")
    # Capture before the bridge, the bridge before the room script that drives it.
    scripts = re.findall(r'<script src="[^"]*/js/(audio/capture|room/transcription|room/doctor)\.js"', html)
    assert scripts == ["audio/capture", "room/transcription", "room/doctor"]
    assert f'data-consultation="{consultation.pk}" data-live="true"' in html


def test_it_says_transcription_is_off_without_the_patients_consent(alice_client, consultation, ctx_system):
    _consent(consultation, ctx_system, transcription=False)
    html = alice_client.get(f"/consultations/{consultation.pk}/room/").content.decode()
    assert _config(html)["consented"] is False
    assert _status(html) == ("no_consent", "Transcrição desligada: o paciente não consentiu")


def test_it_follows_the_consent_in_force(alice_client, consultation, ctx_system):
    """The latest consent record wins: a patient who withdraws transcription consent turns it off."""
    _consent(consultation, ctx_system, transcription=True)
    _consent(consultation, ctx_system, transcription=False)
    html = alice_client.get(f"/consultations/{consultation.pk}/room/").content.decode()
    assert _status(html)[0] == "no_consent"


def test_it_shows_the_transcript_so_far_and_audits_the_read(alice_client, consultation, ctx_system):
    from transcription.models import TranscriptSegment, Utterance

    _consent(consultation, ctx_system, transcription=True)
    TranscriptSegment.objects.create(consultation=consultation, speaker="patient", text="Estou com febre há dois dias.",
                                     start_ms=61_000, end_ms=63_500, engine="faster_whisper")
    Utterance.objects.create(consultation=consultation, speaker="doctor", start_ms=64_000, end_ms=65_000,
                             wav_path="/nonexistent.wav", status=Utterance.Status.FAILED)
    html = alice_client.get(f"/consultations/{consultation.pk}/room/").content.decode()
    assert "Estou com febre há dois dias." in html
    assert '<span class="t-time">01:01</span> <span class="t-speaker">Paciente:</span>' in html
    assert "Transcrição pendente" in html
    viewed = AuditEvent.objects.filter(action="transcript.viewed", target_id=str(consultation.pk))
    assert list(viewed.values_list("extra__via", flat=True)) == ["room"]


def test_it_shows_transcription_off_once_the_consultation_is_closed(alice_client, consultation, ctx_system, alice):
    from audit.services import AuditContext
    from consultations.services import consultation_transition

    _consent(consultation, ctx_system, transcription=True)
    consultation_transition(ctx=AuditContext(user=alice.user), consultation=consultation, to="cancelled")
    html = alice_client.get(f"/consultations/{consultation.pk}/room/").content.decode()
    assert _config(html)["open"] is False
    assert _status(html) == ("ended", "Transcrição desligada")


def test_it_keeps_the_transcript_of_the_room_from_other_doctors(client, consultation, ctx_system, bob, charlie):
    from transcription.models import TranscriptSegment

    _consent(consultation, ctx_system, transcription=True)
    TranscriptSegment.objects.create(consultation=consultation, speaker="patient", text="Dor de cabeça forte.",
                                     start_ms=0, end_ms=1_000, engine="faster_whisper")
    for outsider in (bob, charlie):
        client.force_login(outsider.user)
        response = client.get(f"/consultations/{consultation.pk}/room/")
        assert response.status_code in (403, 404)
        assert "Dor de cabeça forte." not in response.content.decode()
    assert not AuditEvent.objects.filter(action="transcript.viewed").exists()
