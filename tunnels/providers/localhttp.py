"""Small blocking HTTP client for the local APIs the providers talk to (ngrok agent API,
cloudflared metrics) and for tunnel verification.

Standard library only, so a provider never adds a dependency just to read a JSON document. HTTP
error statuses are returned, not raised: an ngrok error page (404/502) is an answer we need to read.
"""
from __future__ import annotations

import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

USER_AGENT = "MedCall-tunnel-check/1.0"
MAX_BODY = 256 * 1024


@dataclass
class HttpReply:
    status: int
    headers: dict  # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def is_local_host(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def ssl_context(verify: str | bool) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()


def http_get(url: str, *, timeout: float, headers: dict | None = None, verify: str | bool = True) -> HttpReply:
    """GET url. Raises OSError subclasses (ssl.SSLError, ConnectionRefusedError, TimeoutError, ...)
    for transport failures, with urllib's URLError wrapper removed so callers can tell them apart."""
    host = urlsplit(url).hostname or ""
    handlers: list = []
    if is_local_host(host):
        # A corporate HTTP(S)_PROXY must not swallow requests to this machine or its LAN.
        handlers.append(urllib.request.ProxyHandler({}))
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context(verify)))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with opener.open(request, timeout=timeout) as response:
            return HttpReply(response.status, _lower(response.headers), response.read(MAX_BODY))
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(MAX_BODY)
        except OSError:
            body = b""
        return HttpReply(exc.code, _lower(exc.headers or {}), body)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, OSError):
            raise exc.reason from None
        raise ConnectionError(str(exc.reason)) from None


def _lower(headers) -> dict:
    return {str(k).lower(): str(v) for k, v in headers.items()}
