"""Media mode selection, ICE servers, and LiveKit access tokens for the consultation room.

Tokens are minted server-side with livekit-api, one per participant, for the consultation's room
only, with a short TTL and only the grants that side needs (join, publish camera/microphone,
subscribe). The browser connects to `ws(s)://<the host it is on>/lk`, computed per request: the
public host changes every time a tunnel is opened, so nothing is baked in at build time.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from livekit import api as livekit_api

from .models import Consultation

MODES = ("auto", "p2p", "livekit")
# What each participant may publish: a consultation is camera + microphone, nothing else.
PUBLISH_SOURCES = ["camera", "microphone"]


def _livekit_keys() -> tuple[str, str]:
    return getattr(settings, "LIVEKIT_API_KEY", "") or "", getattr(settings, "LIVEKIT_API_SECRET", "") or ""


def livekit_ready() -> bool:
    """LiveKit is configured (URL or auto-start with a binary) and we hold keys to mint tokens."""
    from tunnels.probes import livekit_configured

    key, secret = _livekit_keys()
    return bool(key and secret) and livekit_configured()


def media_mode() -> str:
    """`p2p` or `livekit` for calls started now (MEDIA_MODE=auto picks LiveKit when it is ready)."""
    mode = getattr(settings, "MEDIA_MODE", "auto") or "auto"
    if mode not in MODES:
        mode = "auto"
    if mode == "auto":
        return "livekit" if livekit_ready() else "p2p"
    return mode


def ice_servers() -> list[dict]:
    """RTCIceServer dicts for the browser: ICE_SERVERS as given, else STUN_URLS + TURN_*."""
    configured = getattr(settings, "ICE_SERVERS", None) or []
    if configured:
        return list(configured)
    servers: list[dict] = []
    stun = [u for u in (getattr(settings, "STUN_URLS", None) or []) if u]
    if stun:
        servers.append({"urls": stun})
    turn = getattr(settings, "TURN_URL", "")
    if turn:
        servers.append(
            {
                "urls": [u.strip() for u in turn.split(",") if u.strip()],
                "username": getattr(settings, "TURN_USERNAME", ""),
                "credential": getattr(settings, "TURN_PASSWORD", ""),
            }
        )
    return servers


def turn_configured() -> bool:
    return any(
        str(u).startswith(("turn:", "turns:"))
        for server in ice_servers()
        for u in (server.get("urls") if isinstance(server.get("urls"), list) else [server.get("urls")])
    )


def livekit_client_url(request) -> str:
    """`wss://<host>/lk` for the host this request came in on (ws:// on plain-HTTP loopback).

    The patient reaches us through the tunnel's public host, the doctor maybe on localhost; both
    connect back to the origin they loaded the page from, where /lk is proxied to LiveKit."""
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/lk"


def doctor_identity(consultation: Consultation) -> str:
    return f"doctor-{consultation.doctor_id}"


def patient_identity(consultation: Consultation) -> str:
    return f"patient-{consultation.pk}"


@dataclass(frozen=True)
class RoomToken:
    url: str
    token: str
    identity: str
    room: str
    expires_in: int

    def as_dict(self) -> dict:
        return {
            "url": self.url,
            "token": self.token,
            "identity": self.identity,
            "room": self.room,
            "expires_in": self.expires_in,
        }


class LiveKitNotConfigured(Exception):
    """No LiveKit keys: the message is user-facing."""


def _mint(*, identity: str, name: str, room: str, ttl: int) -> str:
    key, secret = _livekit_keys()
    if not (key and secret):
        from django.utils.translation import gettext as _

        raise LiveKitNotConfigured(
            _("LiveKit is not configured on this server (LIVEKIT_API_KEY/LIVEKIT_API_SECRET are missing).")
        )
    grants = livekit_api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_publish_sources=PUBLISH_SOURCES,
        can_subscribe=True,
        # Nothing in a consultation travels over LiveKit data channels; control goes through our
        # own signalling socket, which checks who may do what.
        can_publish_data=False,
    )
    return (
        livekit_api.AccessToken(key, secret)
        .with_identity(identity)
        .with_name(name)
        .with_grants(grants)
        .with_ttl(datetime.timedelta(seconds=ttl))
        .to_jwt()
    )


def livekit_token_for_doctor(*, request, consultation: Consultation) -> RoomToken:
    ttl = int(getattr(settings, "LIVEKIT_TOKEN_TTL_SECONDS", 600))
    identity = doctor_identity(consultation)
    # The display name is the doctor's professional name; no patient data goes into the token.
    jwt = _mint(identity=identity, name=consultation.doctor.display_name, room=consultation.room_name, ttl=ttl)
    return RoomToken(livekit_client_url(request), jwt, identity, consultation.room_name, ttl)


def livekit_token_for_patient(*, request, consultation: Consultation) -> RoomToken:
    ttl = int(getattr(settings, "LIVEKIT_TOKEN_TTL_SECONDS", 600))
    identity = patient_identity(consultation)
    # Named "patient", not by their name: LiveKit logs and webhooks must not carry personal data.
    jwt = _mint(identity=identity, name="patient", room=consultation.room_name, ttl=ttl)
    return RoomToken(livekit_client_url(request), jwt, identity, consultation.room_name, ttl)
