"""GET /api/v1/consultations/<id>/transcript/: shape, order, clinic scope, audit."""
import pytest
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from transcription.models import TranscriptSegment

pytestmark = pytest.mark.django_db


@pytest.fixture
def segments(consultation):
    later = TranscriptSegment.objects.create(consultation=consultation, speaker="patient", text="Tenho febre.",
                                             start_ms=5000, end_ms=6500, language="pt", engine="faster_whisper")
    first = TranscriptSegment.objects.create(consultation=consultation, speaker="doctor", text="O que sente?",
                                             start_ms=1000, end_ms=2000, language="pt", engine="faster_whisper")
    return [first, later]


def test_it_lists_the_transcript_in_spoken_order(alice_client, consultation, segments):
    response = alice_client.get(f"/api/v1/consultations/{consultation.pk}/transcript/")
    assert response.status_code == 200
    body = response.json()
    assert [s["id"] for s in body] == [s.pk for s in segments]
    assert set(body[0]) == {"id", "speaker", "text", "start_ms", "end_ms", "created_at"}
    assert body[0] | {"created_at": None} == {"id": segments[0].pk, "speaker": "doctor", "text": "O que sente?",
                                               "start_ms": 1000, "end_ms": 2000, "created_at": None}


def test_it_audits_every_view(alice_client, alice, consultation, segments):
    alice_client.get(f"/api/v1/consultations/{consultation.pk}/transcript/")
    event = AuditEvent.objects.get(action="transcript.viewed")
    assert event.actor == alice.user and event.target_id == str(consultation.pk) and event.extra == {"via": "api"}
    assert "febre" not in str(event.extra)


def test_it_hides_other_clinics_transcripts(charlie_client, consultation, segments):
    response = charlie_client.get(f"/api/v1/consultations/{consultation.pk}/transcript/")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="transcript.viewed").exists()


def test_it_accepts_a_token_and_refuses_anonymous_clients(client, alice, consultation, segments):
    assert client.get(f"/api/v1/consultations/{consultation.pk}/transcript/").status_code == 401
    token = Token.objects.create(user=alice.user)
    response = client.get(f"/api/v1/consultations/{consultation.pk}/transcript/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and len(response.json()) == 2


def test_it_is_in_the_openapi_schema(alice_client):
    schema = alice_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/v1/consultations/{id}/transcript/" in schema
