"""What path a call's media (UDP) will take, in words a clinic's IT person can act on.

HTTP tunnels carry the page, signalling and transcription, never WebRTC media. The answer depends on
the tunnel provider and on whether a TURN server or a LiveKit server is configured.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class MediaPath:
    summary: str
    warning: str  # empty when a remote patient can connect


def _turn_configured() -> bool:
    if getattr(settings, "TURN_URL", ""):
        return True
    for server in getattr(settings, "ICE_SERVERS", []) or []:
        urls = server.get("urls") if isinstance(server, dict) else None
        urls = [urls] if isinstance(urls, str) else (urls or [])
        if any(str(u).startswith(("turn:", "turns:")) for u in urls):
            return True
    return False


def media_path(provider: str) -> MediaPath:
    livekit_url = getattr(settings, "LIVEKIT_URL", "") or ""
    host = urlsplit(livekit_url).hostname or ""
    if livekit_url and host.endswith(".livekit.cloud"):
        return MediaPath(_("Video goes through LiveKit Cloud: patients on any network can connect."), "")
    if provider == "lan":
        return MediaPath(
            _(
                "Local network: the patient must be on the same Wi-Fi or network as this computer and accept the "
                "certificate warning once (the certificate is made by MedCall). Video flows directly inside the network."
            ),
            "",
        )
    if _turn_configured():
        return MediaPath(
            _("Video goes directly between the devices when their networks allow it, otherwise through the configured TURN server."),
            "",
        )
    if livekit_url:
        return MediaPath(
            _("Video goes through this clinic's LiveKit server: its RTC ports (UDP 50000–60000, TCP 7881) must be reachable from the internet for remote patients."),
            _("If the LiveKit server is not reachable from the internet (public IP and open ports), remote patients will not get video."),
        )
    if provider in ("none", ""):
        return MediaPath(_("No public address: calls only work from this computer."), "")
    return MediaPath(
        _("Video goes directly between the devices (peer-to-peer); no TURN server is configured."),
        _("A remote patient behind a strict network (mobile data, corporate Wi-Fi) may not get video without a TURN server. Configure TURN_URL, TURN_USERNAME and TURN_PASSWORD (or ICE_SERVERS)."),
    )
