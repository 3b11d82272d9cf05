"""POST /livekit/webhook with real signatures made with livekit-api (what LiveKit sends): an
AccessToken whose sha256 claim is the base64 SHA-256 of the raw body, in the Authorization header."""
import base64
import hashlib
import time

import pytest
from google.protobuf.json_format import MessageToJson
from livekit import api as livekit_api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from audit.models import AuditEvent
from consultations.models import CallSession

KEY, SECRET = "APIwebhooktests", "webhook-secret-long-enough-for-hs256-signatures"
URL = "/livekit/webhook"


@pytest.fixture(autouse=True)
def livekit_keys(settings):
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET


def _body(event: str, consultation, *, event_id: str, identity: str = "", sid: str = "RM_abc123") -> str:
    message = WebhookEvent(
        event=event,
        id=event_id,
        created_at=int(time.time()),
        room=Room(sid=sid, name=consultation.room_name, creation_time=int(time.time())),
    )
    if identity:
        message.participant.CopyFrom(ParticipantInfo(sid="PA_" + identity, identity=identity))
    return MessageToJson(message)


def _sign(body: str, secret: str = SECRET, key: str = KEY) -> str:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return livekit_api.AccessToken(key, secret).with_sha256(digest).to_jwt()


def _post(client, body: str, auth: str | None):
    headers = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    return client.post(URL, data=body, content_type="application/webhook+json", **headers)


def _webhook_audits():
    return AuditEvent.objects.filter(action__startswith="call.livekit_")


def test_it_records_a_session_per_room_from_signed_events(client, consultation, alice):
    body = _body("room_started", consultation, event_id="EV_1")
    assert _post(client, body, _sign(body)).status_code == 200
    session = CallSession.objects.get(consultation=consultation)
    assert session.meeting_id == "RM_abc123"
    assert session.room_name == consultation.room_name
    assert session.status == "active" and session.mode == "livekit"

    for n, identity in enumerate((f"doctor-{alice.pk}", f"patient-{consultation.pk}"), start=2):
        body = _body("participant_joined", consultation, event_id=f"EV_{n}", identity=identity)
        assert _post(client, body, _sign(body)).status_code == 200
    session.refresh_from_db()
    consultation.refresh_from_db()
    assert (session.doctor_presence, session.patient_presence) == ("connected", "connected")
    assert consultation.status == "in_progress"  # both really joined

    body = _body("participant_left", consultation, event_id="EV_4", identity=f"patient-{consultation.pk}")
    assert _post(client, body, _sign(body)).status_code == 200
    body = _body("room_finished", consultation, event_id="EV_5")
    assert _post(client, body, _sign(body)).status_code == 200
    session.refresh_from_db()
    assert session.patient_presence == "left"
    assert session.status == "ended" and session.ended_at is not None
    assert list(_webhook_audits().order_by("id").values_list("action", flat=True)) == [
        "call.livekit_room_started",
        "call.livekit_participant_joined",
        "call.livekit_participant_joined",
        "call.livekit_participant_left",
        "call.livekit_room_finished",
    ]
    assert CallSession.objects.count() == 1


def test_it_refuses_a_signature_made_with_another_secret(client, consultation):
    body = _body("room_started", consultation, event_id="EV_x")
    response = _post(client, body, _sign(body, secret="not-the-secret-we-share-with-livekit-at-all"))
    assert response.status_code == 401
    assert not CallSession.objects.exists() and not _webhook_audits().exists()


def test_it_refuses_another_api_key(client, consultation):
    body = _body("room_started", consultation, event_id="EV_k")
    assert _post(client, body, _sign(body, key="APIsomeoneelse")).status_code == 401
    assert not CallSession.objects.exists()


def test_it_refuses_a_tampered_body(client, consultation):
    body = _body("room_started", consultation, event_id="EV_t")
    auth = _sign(body)
    tampered = body.replace("RM_abc123", "RM_evil99")
    assert _post(client, tampered, auth).status_code == 401
    assert not CallSession.objects.exists() and not _webhook_audits().exists()


def test_it_refuses_a_missing_or_garbage_authorization(client, consultation):
    body = _body("room_started", consultation, event_id="EV_m")
    assert _post(client, body, None).status_code == 401
    assert _post(client, body, "not-a-jwt").status_code == 401
    assert not CallSession.objects.exists()


def test_it_refuses_everything_when_no_keys_are_configured(client, consultation, settings):
    body = _body("room_started", consultation, event_id="EV_n")
    auth = _sign(body)
    settings.LIVEKIT_API_KEY = settings.LIVEKIT_API_SECRET = ""
    assert _post(client, body, auth).status_code == 401
    assert not CallSession.objects.exists()


def test_it_treats_a_replayed_delivery_as_a_no_op(client, consultation, alice):
    body = _body("participant_joined", consultation, event_id="EV_dup", identity=f"doctor-{alice.pk}")
    auth = _sign(body)
    assert _post(client, body, auth).status_code == 200
    again = _post(client, body, auth)
    assert again.status_code == 200
    assert _webhook_audits().count() == 1
    assert CallSession.objects.count() == 1


def test_it_ignores_rooms_that_are_not_consultations(client, consultation):
    body = _body("room_started", consultation, event_id="EV_u").replace(consultation.room_name, "mc-unknownroom")
    assert _post(client, body, _sign(body)).status_code == 200
    assert not CallSession.objects.exists()


def test_it_is_csrf_exempt_and_post_only(consultation):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    body = _body("room_started", consultation, event_id="EV_c")
    assert _post(strict, body, _sign(body)).status_code == 200
    assert strict.get(URL).status_code == 405
