"""static: a public URL that already reaches this server (a deployed domain behind a reverse proxy)."""
from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from tunnels.providers.base import TunnelError, TunnelHandle, TunnelProvider

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def public_base_url_problem(url: str) -> str | None:
    """A translated explanation of what is wrong with PUBLIC_BASE_URL, or None when it is usable."""
    if not url:
        return _("PUBLIC_BASE_URL is empty. Set it to the HTTPS address of this server, e.g. https://clinica.example.com.")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return _("PUBLIC_BASE_URL %(url)s is not a web address. Use the form https://clinica.example.com.") % {"url": url}
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        return _(
            "PUBLIC_BASE_URL %(url)s uses http: phones only allow camera and microphone on HTTPS pages. Use an "
            "https:// address (http is accepted only for localhost)."
        ) % {"url": url}
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return _(
            "PUBLIC_BASE_URL %(url)s has a path; MedCall must be served at the root of its domain. Use only "
            "https://host[:port]."
        ) % {"url": url}
    return None


class StaticProvider(TunnelProvider):
    name = "static"

    def __init__(self, *, public_url: str | None = None):
        self.public_url = (settings.PUBLIC_BASE_URL if public_url is None else public_url).strip().rstrip("/")
        self._open = False

    def available(self) -> tuple[bool, str]:
        problem = public_base_url_problem(self.public_url)
        return (problem is None), (problem or "")

    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        problem = public_base_url_problem(self.public_url)
        if problem:
            raise TunnelError(problem, code="static_invalid", port=local_port)
        self._open = True
        return TunnelHandle(provider=self.name, public_url=self.public_url, local_port=local_port, details={})

    def close(self) -> None:
        self._open = False

    def is_alive(self) -> bool:
        # Nothing local to watch: the reverse proxy lives elsewhere; tunnel_verify is the real check.
        return self._open

    def media_note(self) -> str:
        return _(
            "Page and signalling go through %(url)s; video (UDP) goes directly between the devices when their "
            "networks allow it, and through a TURN server (or LiveKit) otherwise."
        ) % {"url": self.public_url or "PUBLIC_BASE_URL"}
