"""SignalingConsumer: auth matrix before accept(), isolation between consultations, validation of
malformed/oversized/unknown/forbidden messages, rate limit, presence → status, end of call."""
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from consultations.models import CallSession, Consultation, PatientLink
from consultations.signaling import MAX_FRAME
from medcall.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


def _session_cookie(client, user) -> str:
    # A client of its own per user: logging a second user in on one client ends the first session.
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _link_token(consultation, *, consent=True, state="valid") -> str:
    from audit.services import AuditContext
    from consultations.room_services import consent_record
    from consultations.services import consultation_link_issue, patient_link_token

    link = consultation_link_issue(ctx=AuditContext.system("tests"), consultation=consultation)
    if consent:
        consent_record(
            ctx=AuditContext(ip="127.0.0.1", label="patient-link"),
            consultation=consultation,
            teleconsultation=True,
            transcription=False,
            channel="patient_link",
        )
    if state == "expired":
        PatientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif state == "revoked":
        PatientLink.objects.filter(pk=link.pk).update(revoked_at=timezone.now(), revoked_reason="replaced")
    return patient_link_token(link)


async def _open(consultation_id, *, cookie=None, token=None):
    path = f"/ws/consultations/{consultation_id}/signal/"
    if token:
        path += f"?token={token}"
    headers = [(b"cookie", f"sessionid={cookie}".encode())] if cookie else []
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await comm.connect(timeout=5)
    return comm, connected, code


async def _until(comm, kind, limit=20):
    for _ in range(limit):
        message = await comm.receive_json_from(timeout=5)
        if message.get("type") == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


@pytest.fixture
def doctor_cookie(client, alice):
    return _session_cookie(client, alice.user)


async def test_it_accepts_the_consultations_doctor_with_a_welcome(consultation, doctor_cookie):
    comm, connected, _code = await _open(consultation.pk, cookie=doctor_cookie)
    assert connected
    welcome = await _until(comm, "welcome")
    assert welcome["role"] == "doctor"
    assert welcome["mode"] == "p2p"
    assert welcome["polite"] is False
    assert welcome["admitted"] is False
    await comm.disconnect()


@pytest.mark.parametrize("who", ["bob", "charlie", "anonymous"])
async def test_it_refuses_anyone_but_the_consultations_doctor(consultation, client, bob, charlie, who):
    cookie = None
    if who == "bob":
        cookie = await sync_to_async(_session_cookie)(client, bob.user)
    elif who == "charlie":
        cookie = await sync_to_async(_session_cookie)(client, charlie.user)
    comm, connected, code = await _open(consultation.pk, cookie=cookie)
    assert not connected
    assert code == 4403


async def test_it_accepts_a_valid_patient_link_with_consent(consultation):
    token = await sync_to_async(_link_token)(consultation)
    comm, connected, _code = await _open(consultation.pk, token=token)
    assert connected
    welcome = await _until(comm, "welcome")
    assert welcome["role"] == "patient"
    assert welcome["polite"] is True
    assert welcome["consent"]["teleconsultation"] is True
    await comm.disconnect()


@pytest.mark.parametrize("state", ["expired", "revoked"])
async def test_it_refuses_an_expired_or_revoked_patient_link(consultation, state):
    token = await sync_to_async(_link_token)(consultation, state=state)
    comm, connected, code = await _open(consultation.pk, token=token)
    assert not connected and code == 4403


async def test_it_refuses_a_patient_link_without_teleconsultation_consent(consultation):
    token = await sync_to_async(_link_token)(consultation, consent=False)
    _comm, connected, code = await _open(consultation.pk, token=token)
    assert not connected and code == 4403


async def test_it_refuses_a_tampered_token_or_another_consultations_token(consultation, outsider_consultation):
    token = await sync_to_async(_link_token)(consultation)
    _comm, connected, _ = await _open(consultation.pk, token=token[:-2] + "xx")
    assert not connected
    _comm, connected, _ = await _open(outsider_consultation.pk, token=token)
    assert not connected


async def test_it_relays_signals_only_to_the_other_side_of_the_same_consultation(
    consultation, outsider_consultation, client, doctor_cookie, charlie
):
    token = await sync_to_async(_link_token)(consultation)
    other_token = await sync_to_async(_link_token)(outsider_consultation)
    charlie_cookie = await sync_to_async(_session_cookie)(client, charlie.user)
    doctor, _, _ = await _open(consultation.pk, cookie=doctor_cookie)
    patient, _, _ = await _open(consultation.pk, token=token)
    other_doctor, _, _ = await _open(outsider_consultation.pk, cookie=charlie_cookie)
    other_patient, _, _ = await _open(outsider_consultation.pk, token=other_token)
    for comm in (doctor, patient, other_doctor, other_patient):
        await _until(comm, "welcome")

    offer = {"type": "signal", "from": "d1", "to": "p1", "description": {"type": "offer", "sdp": "v=0\r\n"}}
    await doctor.send_json_to(offer)
    relayed = await _until(patient, "signal")
    assert relayed == {"type": "signal", "from": "d1", "to": "p1", "description": {"type": "offer", "sdp": "v=0\r\n"}}
    await patient.send_json_to({"type": "hello", "peer": "p1"})
    hello = await _until(doctor, "hello")
    assert hello["peer"] == "p1" and hello["remote"] is False

    # Nothing reached the other consultation, and the sender did not hear its own message.
    for comm in (other_doctor, other_patient):
        assert await comm.receive_nothing(timeout=0.3)
    await doctor.send_json_to({"type": "ping", "id": 1})
    assert (await doctor.receive_json_from(timeout=5)) == {"type": "pong", "id": 1}
    for comm in (doctor, patient, other_doctor, other_patient):
        await comm.disconnect()


async def test_it_answers_bad_messages_with_errors_and_keeps_working(consultation):
    token = await sync_to_async(_link_token)(consultation)
    patient, _, _ = await _open(consultation.pk, token=token)
    await _until(patient, "welcome")

    async def error_for(text):
        await patient.send_to(text_data=text)
        return (await _until(patient, "error"))["code"]

    assert await error_for("{not json") == "invalid_json"
    assert await error_for(json.dumps({"type": "signal", "from": "a", "to": "b", "sdp": "x" * (MAX_FRAME + 1)})) == "too_large"
    assert await error_for(json.dumps({"type": "launch_missiles"})) == "unknown_type"
    assert await error_for(json.dumps([1, 2, 3])) == "unknown_type"
    assert await error_for(json.dumps({"type": "admit"})) == "forbidden"
    assert await error_for(json.dumps({"type": "end"})) == "forbidden"
    assert await error_for(json.dumps({"type": "signal", "from": "a", "to": "b"})) == "invalid"
    assert await error_for(json.dumps({"type": "signal", "from": 1, "to": "b", "candidate": {}})) == "invalid"
    assert await error_for(json.dumps({"type": "presence", "state": "hacked"})) == "invalid"
    await patient.send_to(bytes_data=b"\x00\x01")
    assert (await _until(patient, "error"))["code"] == "invalid"

    await patient.send_json_to({"type": "ping", "id": "still-here"})
    assert (await _until(patient, "pong"))["id"] == "still-here"
    await patient.disconnect()


async def test_it_rate_limits_a_flooding_connection(consultation, doctor_cookie):
    doctor, _, _ = await _open(consultation.pk, cookie=doctor_cookie)
    await _until(doctor, "welcome")
    for i in range(150):
        await doctor.send_json_to({"type": "ping", "id": i})
    replies = [await doctor.receive_json_from(timeout=5) for _ in range(150)]
    codes = {r.get("code") for r in replies if r["type"] == "error"}
    assert codes == {"rate_limited"}
    assert sum(r["type"] == "pong" for r in replies) < 150
    await doctor.disconnect()


async def test_it_starts_when_both_connect_and_completes_when_the_doctor_ends(consultation, doctor_cookie):
    token = await sync_to_async(_link_token)(consultation)
    doctor, _, _ = await _open(consultation.pk, cookie=doctor_cookie)
    patient, _, _ = await _open(consultation.pk, token=token)
    await _until(doctor, "welcome")
    await _until(patient, "welcome")

    await patient.send_json_to({"type": "presence", "state": "waiting"})
    presence = await _until(doctor, "presence")
    assert presence["patient"] == "waiting"

    await doctor.send_json_to({"type": "admit"})
    assert (await _until(patient, "admitted"))["type"] == "admitted"

    await doctor.send_json_to({"type": "presence", "state": "connected"})
    await patient.send_json_to({"type": "presence", "state": "connected"})
    for _ in range(10):
        snapshot = await _until(doctor, "presence")
        if snapshot["status"] == "in_progress":
            break
    assert snapshot["status"] == "in_progress"
    assert (await sync_to_async(Consultation.objects.get)(pk=consultation.pk)).status == "in_progress"

    await doctor.send_json_to({"type": "end"})
    ended = await _until(patient, "ended")
    assert ended["status"] == "completed"
    assert (await patient.receive_output(timeout=5))["type"] == "websocket.close"

    refreshed = await sync_to_async(Consultation.objects.get)(pk=consultation.pk)
    assert refreshed.status == "completed"
    actions = await sync_to_async(lambda: set(AuditEvent.objects.filter(target_id=str(consultation.pk)).values_list("action", flat=True)))()
    assert {"call.admitted", "call.presence", "call.ended", "consultation.status_changed"} <= actions
    session = await sync_to_async(CallSession.objects.get)(consultation=consultation)
    assert session.status == "ended" and session.admitted_at is not None
    # The link was revoked by the end of the consultation: the patient cannot come back in.
    _comm, connected, _ = await _open(consultation.pk, token=token)
    assert not connected
    await doctor.disconnect()


async def test_it_marks_the_patient_left_on_disconnect_and_a_new_tab_replaces_the_old(consultation, doctor_cookie):
    token = await sync_to_async(_link_token)(consultation)
    doctor, _, _ = await _open(consultation.pk, cookie=doctor_cookie)
    await _until(doctor, "welcome")
    first, _, _ = await _open(consultation.pk, token=token)
    await _until(first, "welcome")
    second, _, _ = await _open(consultation.pk, token=token)
    assert (await _until(first, "replaced"))["type"] == "replaced"
    await _until(second, "welcome")
    await second.send_json_to({"type": "presence", "state": "waiting"})
    assert (await _until(doctor, "presence"))["patient"] == "waiting"
    await second.disconnect()
    for _ in range(5):
        snapshot = await _until(doctor, "presence")
        if snapshot["patient"] == "left":
            break
    assert snapshot["patient"] == "left"
    await doctor.disconnect()
