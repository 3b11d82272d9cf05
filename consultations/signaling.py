"""`/ws/consultations/<id>/signal/`: the room's control and WebRTC signalling channel.

Who may connect (checked before accept(); everyone else is closed without a word):
- the consultation's doctor (session cookie);
- the holder of a valid (unexpired, unrevoked) patient link of *this* consultation, passed as
  `?token=<link token>`, who has consented to the teleconsultation.

Client → server messages (JSON text frames, at most MAX_FRAME bytes, rate-limited per socket):
  {"type": "ping", "id": n}                                  → {"type": "pong", "id": n}
  {"type": "presence", "state": "waiting|connected|reconnecting"}
  {"type": "hello", "peer": "<page id>"}                      relayed: "my page is ready to negotiate"
  {"type": "signal", "from": id, "to": id, "description"|"candidate": {...}}   relayed (p2p SDP/ICE)
  {"type": "admit"} / {"type": "end"}                         doctor only
Server → client: welcome, pong, presence (snapshot), hello, signal, admitted, ended, replaced,
  error {code, message}. A bad message gets an error event; it never closes the socket or reaches
  another consultation (relays go to this consultation's `call.<id>` group only, to the other role).
"""
from __future__ import annotations

import json
import logging
import time
from ipaddress import ip_address
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext as _

from audit.services import AuditContext
from medcall.realtime import call_group

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024  # an SDP with many codecs/candidates stays well below this
RATE_CAPACITY = 60  # burst: a full ICE candidate trickle fits
RATE_PER_SECOND = 20.0
RECHECK_SECONDS = 10.0  # how often a patient's link is re-validated while the socket lives
PEER_ID_MAX = 64
TYPES = frozenset({"ping", "presence", "hello", "signal", "admit", "end"})
RELAYED = frozenset({"hello", "signal"})
DOCTOR_ONLY = frozenset({"admit", "end"})


class _TokenBucket:
    def __init__(self, capacity: int, rate: float):
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _is_remote(scope) -> bool:
    """Whether the client is outside loopback/private networks (then p2p media likely needs TURN).
    Behind a local tunnel agent the direct peer is loopback: trust its X-Forwarded-For then."""
    client = (scope.get("client") or [None])[0]
    headers = dict(scope.get("headers") or [])
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")[0].strip()
    candidate = client
    try:
        if client and ip_address(client).is_loopback and forwarded:
            candidate = forwarded
        return not (ip_address(candidate).is_private or ip_address(candidate).is_loopback)
    except ValueError:
        return False


@database_sync_to_async
def _authorize(scope, consultation_id: int, token: str | None):
    """(role, consultation, link_id) or None. Doctor: the consultation's own doctor. Patient: a
    valid link of this consultation with teleconsultation consent."""
    from patients.selectors import doctor_for_user

    from .models import Consultation
    from .selectors import consent_current
    from .services import patient_link_from_token

    if token:
        link = patient_link_from_token(token)
        if link is None or link.consultation_id != consultation_id or link.state() != "valid":
            return None
        consent = consent_current(consultation_id=consultation_id)
        if consent is None or not consent.teleconsultation:
            return None
        return "patient", link.consultation, link.pk
    user = scope.get("user")
    if not getattr(user, "is_authenticated", False):
        return None
    doctor = doctor_for_user(user)
    if doctor is None:
        return None
    consultation = (
        Consultation.objects.select_related("doctor__user").filter(pk=consultation_id, doctor=doctor).first()
    )
    if consultation is None:
        return None
    return "doctor", consultation, None


@database_sync_to_async
def _link_still_valid(link_id: int) -> bool:
    from .models import PatientLink

    link = PatientLink.objects.filter(pk=link_id).first()
    return link is not None and link.state() == "valid"


@database_sync_to_async
def _presence(ctx, consultation, role, state):
    from .room_services import call_presence_set

    return call_presence_set(ctx=ctx, consultation=consultation, role=role, state=state)


@database_sync_to_async
def _snapshot(consultation):
    from .models import Consultation
    from .room_services import call_state_get

    consultation.refresh_from_db(fields=["status"])
    return call_state_get(consultation=consultation) if isinstance(consultation, Consultation) else {}


@database_sync_to_async
def _admit(ctx, consultation):
    from .room_services import call_admit

    return call_admit(ctx=ctx, consultation=consultation)


@database_sync_to_async
def _end(ctx, consultation):
    from .room_services import call_end

    return call_end(ctx=ctx, consultation=consultation)


def _room_config(role: str, remote: bool) -> dict:
    from .livekit_tokens import ice_servers, media_mode, turn_configured

    return {
        "mode": media_mode(),
        "ice_servers": ice_servers(),
        "turn_configured": turn_configured(),
        "remote": remote,
        # Perfect negotiation: the patient's page yields on offer collisions.
        "polite": role == "patient",
    }


class SignalingConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = None
        try:
            self.consultation_id = int(self.scope["url_route"]["kwargs"]["pk"])
        except (KeyError, TypeError, ValueError):
            await self.close(code=4400)
            return
        query = parse_qs((self.scope.get("query_string") or b"").decode("latin-1"))
        token = (query.get("token") or [None])[0]
        try:
            granted = await _authorize(self.scope, self.consultation_id, token)
        except Exception:
            log.exception("signalling authorisation failed for consultation %s", self.consultation_id)
            granted = None
        if granted is None:
            await self.close(code=4403)  # before accept(): nothing is revealed
            return
        self.role, self.consultation, self.link_id = granted
        self.ctx = (
            AuditContext.from_scope(self.scope)
            if self.role == "doctor"
            else AuditContext(
                ip=(self.scope.get("client") or [None])[0],
                user_agent=dict(self.scope.get("headers") or []).get(b"user-agent", b"").decode("latin-1")[:300],
                label="patient-link",
            )
        )
        self.remote = _is_remote(self.scope)
        self.bucket = _TokenBucket(RATE_CAPACITY, RATE_PER_SECOND)
        self.checked_at = time.monotonic()
        self.replaced = False
        self.group = call_group(self.consultation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # A reloaded page opens a new socket while the old one may linger: the newest wins.
        await self.channel_layer.group_send(
            self.group, {"type": "call.takeover", "role": self.role, "channel": self.channel_name}
        )
        snapshot = await _snapshot(self.consultation)
        config = _room_config(self.role, self.remote)
        # A call already under way keeps the mode it started with, so both sides agree.
        config["mode"] = snapshot.get("mode") or config["mode"]
        await self._send({"type": "welcome", "role": self.role, **snapshot, **config})

    async def disconnect(self, code):
        if not self.group:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if not self.replaced:
            try:
                await _presence(self.ctx, self.consultation, self.role, "left")
            except Exception:
                log.exception("could not record presence 'left' for consultation %s", self.consultation_id)

    async def _send(self, payload: dict) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})

    async def receive(self, text_data=None, bytes_data=None):
        # Errors are English on purpose: they are for the page's code (which shows its own
        # translated messages), not for the person.
        if not self.bucket.take():
            await self._error("rate_limited", "Too many messages; slow down.")
            return
        if text_data is None:
            await self._error("invalid", "Send JSON text frames only.")
            return
        if len(text_data) > MAX_FRAME:
            await self._error("too_large", f"Messages are limited to {MAX_FRAME} bytes.")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._error("invalid_json", "Malformed JSON.")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in TYPES:
            await self._error("unknown_type", "Unknown message type.")
            return
        if kind in DOCTOR_ONLY and self.role != "doctor":
            await self._error("forbidden", "Only the doctor can do this.")
            return
        if self.role == "patient" and not await self._patient_still_allowed():
            await self._send({"type": "ended", "status": "closed"})
            await self.close(code=4410)
            return
        try:
            await getattr(self, f"_on_{kind}")(message)
        except Exception:
            # A bug or a database hiccup must not kill the call; the page gets told and carries on.
            log.exception("signalling message %s failed for consultation %s", kind, self.consultation_id)
            await self._error("server_error", "The server could not process this message. Try again.")

    async def _patient_still_allowed(self) -> bool:
        if time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return True
        self.checked_at = time.monotonic()
        return await _link_still_valid(self.link_id)

    # --- message handlers ---

    async def _on_ping(self, message):
        await self._send({"type": "pong", "id": message.get("id") if isinstance(message.get("id"), (int, str)) else None})

    async def _on_presence(self, message):
        state = message.get("state")
        if state not in ("waiting", "connected", "reconnecting"):
            await self._error("invalid", "presence.state must be waiting, connected or reconnecting.")
            return
        await _presence(self.ctx, self.consultation, self.role, state)

    async def _on_hello(self, message):
        peer = message.get("peer")
        if not isinstance(peer, str) or not 0 < len(peer) <= PEER_ID_MAX:
            await self._error("invalid", "hello.peer must be a short string.")
            return
        # `remote` is the server's view of the sender's network: the other page uses it to explain a
        # failed p2p connection (no TURN relay while one side is outside the local network).
        await self._relay({"type": "hello", "peer": peer, "remote": self.remote})

    async def _on_signal(self, message):
        sender, target = message.get("from"), message.get("to")
        description, candidate = message.get("description"), message.get("candidate")
        if not all(isinstance(p, str) and 0 < len(p) <= PEER_ID_MAX for p in (sender, target)):
            await self._error("invalid", "signal.from and signal.to must be peer ids.")
            return
        payload = {"type": "signal", "from": sender, "to": target}
        if isinstance(description, dict) and description.get("type") in ("offer", "answer", "rollback", "pranswer"):
            if not isinstance(description.get("sdp", ""), str):
                await self._error("invalid", "description.sdp must be a string.")
                return
            payload["description"] = {"type": description["type"], "sdp": description.get("sdp", "")}
        elif isinstance(candidate, dict) or candidate is None and "candidate" in message:
            payload["candidate"] = candidate  # null = end of candidates
        else:
            await self._error("invalid", "A signal carries a description (offer/answer) or a candidate.")
            return
        await self._relay(payload)

    async def _on_admit(self, message):
        from .room_services import RoomActionRefused

        with translation.override(self.scope.get("language") or None):
            try:
                await _admit(self.ctx, self.consultation)
            except RoomActionRefused as exc:
                await self._error(exc.code, exc.message)

    async def _on_end(self, message):
        await _end(self.ctx, self.consultation)

    async def _relay(self, payload: dict) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "call.relay", "sender_role": self.role, "sender": self.channel_name, "payload": payload}
        )

    # --- group events (names: call.<x> → call_<x>) ---

    async def call_relay(self, event):
        # Only the other side hears it: a doctor's offer never echoes back to another doctor tab.
        if event.get("sender") != self.channel_name and event.get("sender_role") != self.role:
            await self._send(event["payload"])

    async def call_presence(self, event):
        await self._send({**{k: v for k, v in event.items() if k != "type"}, "type": "presence"})

    async def call_admitted(self, event):
        await self._send({"type": "admitted"})

    async def call_ended(self, event):
        await self._send({"type": "ended", "status": event.get("status")})
        if self.role == "patient":
            await self.close(code=4410)

    async def call_takeover(self, event):
        if event.get("role") == self.role and event.get("channel") != self.channel_name:
            self.replaced = True
            await self._send({"type": "replaced", "message": _("This call was opened in another window.")})
            await self.close(code=4409)
