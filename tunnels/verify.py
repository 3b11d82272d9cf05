"""End-to-end tunnel verification: does <public_url>/healthz reach *this* process?

The web server's /healthz answers with a random `instance` id fixed for the life of the process
(medcall/health.py). Fetching it through the public URL and comparing ids proves the whole path —
DNS, the tunnel service, the agent, the local port — ends at this server, and not at another agent
or an old MedCall still holding the same domain. No link is handed out before this passes.
"""
from __future__ import annotations

import json
import socket
import ssl

from django.utils.translation import gettext as _

from tunnels import failures
from tunnels.providers.base import TunnelError
from tunnels.providers.localhttp import http_get


def tunnel_verify(public_url: str, *, expected_instance: str, timeout: float = 5.0, verify=True) -> dict:
    """GET <public_url>/healthz and return its JSON when it comes from `expected_instance`.

    `verify` is passed to TLS: True (system CAs), False, or a CA file path (the lan certificate).
    A 503 from *our* /healthz (database down) still proves the tunnel: it is returned, and the web
    probe reports the database. Raises TunnelError: "verify_mismatch", "ngrok_<n>", "certificate",
    "unreachable" (and "cloudflared_offline" for Cloudflare's tunnel error pages).
    """
    base = public_url.rstrip("/")
    url = f"{base}/healthz"
    try:
        reply = http_get(
            url,
            timeout=timeout,
            # Free ngrok domains answer browsers with an interstitial page unless this header is sent.
            headers={"ngrok-skip-browser-warning": "1", "Accept": "application/json"},
            verify=verify,
        )
    except ssl.SSLCertVerificationError as exc:
        raise failures.certificate(base, exc.verify_message or exc.reason or str(exc))
    except ssl.SSLError as exc:
        raise failures.certificate(base, exc.reason or str(exc))
    except TimeoutError:
        raise failures.unreachable(base, _("no answer within %(seconds)s s") % {"seconds": f"{timeout:g}"})
    except ConnectionRefusedError:
        raise failures.unreachable(base, _("connection refused"))
    except socket.gaierror:
        raise failures.unreachable(base, _("the host name does not resolve"))
    except OSError as exc:
        raise failures.unreachable(base, exc.strerror or exc.__class__.__name__)

    ngrok_code = reply.headers.get("ngrok-error-code") or failures.ngrok_error_code_in(reply.text)
    if ngrok_code:
        raise failures.ngrok_failure(
            ngrok_code, public_url=base, upstream=failures.ngrok_upstream_in(reply.text), detail=f"HTTP {reply.status}"
        )
    if _is_cloudflare_tunnel_error(reply):
        raise TunnelError(
            _(
                "Cloudflare answered for %(url)s but its tunnel is not connected (HTTP %(status)s). cloudflared "
                "has stopped or lost its connection: restart the tunnel."
            )
            % {"url": base, "status": reply.status},
            code="cloudflared_offline",
            details={"public_url": base, "status": reply.status},
        )

    try:
        body = reply.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or "instance" not in body:
        if reply.status >= 500:
            raise failures.unreachable(base, f"HTTP {reply.status}")
        raise failures.verify_mismatch(base, got=None, status=reply.status)
    if body.get("instance") != expected_instance:
        raise failures.verify_mismatch(base, got=str(body.get("instance")), status=reply.status)
    return body


def _is_cloudflare_tunnel_error(reply) -> bool:
    # Cloudflare serves 502/530 pages ("error code: 1033", "Argo Tunnel error") when cloudflared is gone.
    if reply.headers.get("server", "").lower() != "cloudflare" or reply.status not in (502, 530):
        return False
    try:
        json.loads(reply.body)
        return False
    except ValueError:
        return True
