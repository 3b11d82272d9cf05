"""In-person page, transcript panel fragment and text download."""
import pytest

from audit.models import AuditEvent
from consultations.models import ConsentRecord
from transcription.models import TranscriptSegment, Utterance

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment(consultation):
    return TranscriptSegment.objects.create(consultation=consultation, speaker="patient", text="Tenho febre há dois dias.",
                                            start_ms=65_000, end_ms=67_000, language="pt", engine="faster_whisper")


def test_it_downloads_the_transcript_as_text(alice_client, consultation, segment):
    response = alice_client.get(f"/consultations/{consultation.pk}/transcript.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert f"transcricao-consulta-{consultation.pk}.txt" in response["Content-Disposition"]
    assert response.content.decode() == "[01:05] Paciente: Tenho febre há dois dias.\n"
    assert AuditEvent.objects.get(action="transcript.viewed").extra == {"via": "download"}


def test_it_hides_the_download_from_other_clinics(charlie_client, consultation, segment):
    assert charlie_client.get(f"/consultations/{consultation.pk}/transcript.txt").status_code == 404


def test_it_renders_the_panel_with_segments_and_pending_utterances(alice_client, consultation, segment, tmp_path):
    Utterance.objects.create(consultation=consultation, speaker="doctor", start_ms=70_000, end_ms=71_000,
                             wav_path=str(tmp_path / "x.wav"), status=Utterance.Status.FAILED, attempts=1)
    response = alice_client.get(f"/consultations/{consultation.pk}/transcript/panel/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Tenho febre há dois dias." in html and "01:05" in html
    assert "Transcrição pendente" in html
    assert 'data-live="false"' in html
    assert AuditEvent.objects.filter(action="transcript.viewed", extra__via="web").count() == 1


def test_it_asks_for_consent_on_the_in_person_page(alice_client, consultation):
    html = alice_client.get(f"/consultations/{consultation.pk}/in-person/").content.decode()
    assert "ainda não autorizou a transcrição" in html
    assert 'id="capture-start"' not in html


def test_it_records_the_consent_given_in_the_room(alice_client, alice, consultation):
    response = alice_client.post(f"/consultations/{consultation.pk}/in-person/consent/", {"transcription": "yes"})
    assert response.status_code == 302
    record = ConsentRecord.objects.get(consultation=consultation)
    assert record.transcription and record.channel == "doctor" and record.recorded_by == alice.user
    assert AuditEvent.objects.filter(action="consent.recorded", target_id=str(consultation.pk)).exists()
    html = alice_client.get(f"/consultations/{consultation.pk}/in-person/").content.decode()
    assert 'id="capture-start"' in html and "Iniciar transcrição" in html


def test_it_refuses_an_unticked_consent(alice_client, consultation):
    alice_client.post(f"/consultations/{consultation.pk}/in-person/consent/", {})
    assert not ConsentRecord.objects.exists()


def test_it_lets_a_colleague_follow_but_not_capture(client, bob, consented):
    client.force_login(bob.user)
    html = client.get(f"/consultations/{consented.pk}/in-person/").content.decode()
    assert 'id="capture-start"' not in html and "data-transcript-panel" in html


def test_it_hides_the_in_person_page_from_other_clinics(charlie_client, consultation):
    assert charlie_client.get(f"/consultations/{consultation.pk}/in-person/").status_code == 404
