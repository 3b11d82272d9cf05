"""Provider and verification failures → `TunnelError`s with a message a person can act on.

Every message names the service, the port (when known) and the fix, in the active language (pt-BR
by default). Codes are stable identifiers the orchestrator and tests match on. Raw provider output
is kept in `details` for the status page's "technical details" (never secrets, never health data).
ngrok codes: https://ngrok.com/docs/errors (ERR_NGROK_105/107/4018 authtoken, 108 session limit,
334 endpoint already online, 3200 endpoint offline, 8012 upstream unreachable, 6024 browser warning).
"""
from __future__ import annotations

import re

from django.utils.translation import gettext as _

from tunnels.providers.base import TunnelError

NGROK_CODE_RE = re.compile(r"ERR_NGROK_(\d+)")
# ERR_NGROK_8012 pages say "... failed to establish a connection to the upstream web service at localhost:8000."
NGROK_UPSTREAM_RE = re.compile(r"upstream web service at\s+(?:https?://)?([A-Za-z0-9.\-\[\]:]+?)(?:[.\s<\"]|$)")

NGROK_AUTH_CODES = {"105", "106", "107", "4018"}


def ngrok_error_code_in(text: str) -> str | None:
    """The first ERR_NGROK_<n> found in text, or None."""
    match = NGROK_CODE_RE.search(text or "")
    return match.group(0) if match else None


def ngrok_upstream_in(text: str) -> str | None:
    """The upstream address an ERR_NGROK_8012 page names ("localhost:8000"), or None."""
    match = NGROK_UPSTREAM_RE.search(text or "")
    return match.group(1) if match else None


def _port_of(address: str | None) -> int | None:
    if not address or ":" not in address:
        return None
    tail = address.rsplit(":", 1)[1]
    return int(tail) if tail.isdigit() else None


def ngrok_failure(
    error_code: str,
    *,
    port: int | None = None,
    public_url: str = "",
    upstream: str | None = None,
    detail: str = "",
) -> TunnelError:
    """Map an ngrok error code (ERR_NGROK_<n>, from the SDK, a page body or a header) to a TunnelError."""
    match = NGROK_CODE_RE.search(error_code or "") or re.match(r"(\d+)", error_code or "")
    number = match.group(1) if match else ""
    port = port or _port_of(upstream)
    # "port 8000", or a description when the error does not say which port (read from a public page).
    port_phrase = _("port %(port)s") % {"port": port} if port else _("the port MedCall listens on")
    port_text = str(port) if port else "8000"
    details = {"ngrok_error_code": f"ERR_NGROK_{number}" if number else error_code, "public_url": public_url}
    if upstream:
        details["upstream"] = upstream
    if detail:
        details["detail"] = detail[:500]

    if number == "8012":
        message = _(
            "ngrok reached its agent but the agent could not connect to the MedCall web server on "
            "%(port_phrase)s (ERR_NGROK_8012). Make sure MedCall is running (python manage.py runtunnels) and "
            "point the agent at 127.0.0.1 instead of localhost: ngrok http 127.0.0.1:%(port)s."
        ) % {"port_phrase": port_phrase, "port": port_text}
        if upstream and upstream.split(":")[0].strip("[]") == "localhost":
            message += " " + _(
                "This agent forwards to %(upstream)s; on this computer localhost may resolve to IPv6 (::1) "
                "while MedCall listens on 127.0.0.1."
            ) % {"upstream": upstream}
        return TunnelError(message, code="ngrok_8012", port=port, details=details)
    if number == "3200":
        return TunnelError(
            _(
                "The ngrok address %(url)s is offline (ERR_NGROK_3200): the ngrok agent or tunnel that served "
                "it has stopped. Restart the tunnel (“restart tunnel” on the service status page, or "
                "restart python manage.py runtunnels)."
            )
            % {"url": public_url or "ngrok"},
            code="ngrok_3200",
            port=port,
            details=details,
        )
    if number in NGROK_AUTH_CODES:
        return TunnelError(
            _(
                "ngrok refused the authtoken (ERR_NGROK_%(number)s): it is missing, mistyped or revoked. Copy "
                "the authtoken from https://dashboard.ngrok.com/get-started/your-authtoken into NGROK_AUTHTOKEN "
                "and restart MedCall; the tunnel for %(port_phrase)s was not opened."
            )
            % {"number": number, "port_phrase": port_phrase},
            code="ngrok_auth",
            port=port,
            details=details,
        )
    if number == "108":
        return TunnelError(
            _(
                "ngrok refused a new session (ERR_NGROK_108): another ngrok agent is already online with this "
                "account and the plan allows only one. Stop the other agent (or let MedCall use it: start it "
                "with ngrok http 127.0.0.1:%(port)s) and restart the tunnel."
            )
            % {"port": port_text},
            code="ngrok_session_limit",
            port=port,
            details=details,
        )
    if number == "334":
        return TunnelError(
            _(
                "ngrok says the address is already online (ERR_NGROK_334): another agent or another MedCall is "
                "already using this domain. Stop the other one, or set a different NGROK_DOMAIN, then restart "
                "the tunnel for %(port_phrase)s."
            )
            % {"port_phrase": port_phrase},
            code="ngrok_already_online",
            port=port,
            details=details,
        )
    if number == "6024":
        return TunnelError(
            _(
                "ngrok showed its browser warning page instead of MedCall (ERR_NGROK_6024). MedCall sends the "
                "ngrok-skip-browser-warning header when checking; if you see this, restart the tunnel for "
                "%(port_phrase)s."
            )
            % {"port_phrase": port_phrase},
            code="ngrok_6024",
            port=port,
            details=details,
        )
    code_text = f"ERR_NGROK_{number}" if number else (error_code or "?")
    return TunnelError(
        _(
            "ngrok reported an error (%(code)s) for the tunnel to %(port_phrase)s. Look the code up at "
            "https://ngrok.com/docs/errors, fix it and restart the tunnel."
        )
        % {"code": code_text, "port_phrase": port_phrase},
        code=f"ngrok_{number}" if number else "ngrok_error",
        port=port,
        details=details,
    )


def ngrok_sdk_failure(exc: BaseException, *, port: int) -> TunnelError:
    """Map an exception from the ngrok Python SDK. The SDK raises ValueError(message, cause[, error_code])."""
    args = [str(a) for a in getattr(exc, "args", ())]
    text = " | ".join(args) or str(exc)
    code = next((a for a in args[2:] if NGROK_CODE_RE.search(a)), None) or ngrok_error_code_in(text)
    if code:
        return ngrok_failure(code, port=port, detail=text)
    lowered = text.lower()
    if "authtoken" in lowered or "authentication" in lowered:
        return ngrok_failure("ERR_NGROK_4018", port=port, detail=text)
    return TunnelError(
        _(
            "MedCall could not connect to the ngrok service to open the tunnel for port %(port)s: %(reason)s. "
            "Check this computer's internet connection and firewall (ngrok needs outbound TCP 443), then "
            "restart the tunnel."
        )
        % {"port": port, "reason": text[:200]},
        code="ngrok_connect",
        port=port,
        details={"detail": text[:500]},
    )


def ngrok_unavailable(*, agent_api: str, port: int | None = None) -> TunnelError:
    return TunnelError(ngrok_unavailable_reason(agent_api=agent_api), code="ngrok_unavailable", port=port)


def ngrok_unavailable_reason(*, agent_api: str) -> str:
    return _(
        "ngrok is not set up: NGROK_AUTHTOKEN is empty and no ngrok agent answers at %(api)s. Set NGROK_AUTHTOKEN "
        "(free at https://dashboard.ngrok.com), or start an agent with ngrok http 127.0.0.1:8000, or choose "
        "another TUNNEL_PROVIDER."
    ) % {"api": agent_api}


def ngrok_agent_no_tunnel(*, agent_api: str, port: int, forwards: list[str]) -> TunnelError:
    return TunnelError(
        _(
            "An ngrok agent is running (%(api)s) but none of its HTTPS tunnels forwards to MedCall's port "
            "%(port)s (it forwards to: %(forwards)s). Start it with ngrok http 127.0.0.1:%(port)s, or stop "
            "that agent so MedCall can open its own tunnel."
        )
        % {"api": agent_api, "port": port, "forwards": ", ".join(forwards) or _("nothing")},
        code="ngrok_agent_no_tunnel",
        port=port,
        details={"agent_api": agent_api, "forwards": forwards},
    )


def ngrok_localhost_warning(*, upstream: str, port: int) -> str:
    return _(
        "The ngrok agent forwards to %(upstream)s. If the patient sees ERR_NGROK_8012, restart the agent with "
        "ngrok http 127.0.0.1:%(port)s (localhost may resolve to IPv6 while MedCall listens on 127.0.0.1)."
    ) % {"upstream": upstream, "port": port}


def sdk_missing(*, port: int | None = None) -> TunnelError:
    return TunnelError(
        _("The ngrok Python package is not installed. Run pip install -r requirements.txt and restart MedCall."),
        code="ngrok_sdk_missing",
        port=port,
    )


def cloudflared_missing(*, binary: str = "") -> TunnelError:
    return TunnelError(cloudflared_missing_reason(binary=binary), code="cloudflared_missing")


def cloudflared_missing_reason(*, binary: str = "") -> str:
    if binary:
        return _(
            "The cloudflared program was not found at %(path)s (CLOUDFLARED_BIN). Install cloudflared or fix "
            "CLOUDFLARED_BIN, or choose another TUNNEL_PROVIDER."
        ) % {"path": binary}
    return _(
        "The cloudflared program is not installed (not found in PATH). Install it from "
        "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/ or choose "
        "another TUNNEL_PROVIDER."
    )


def cloudflared_failure(output: str, *, port: int, returncode: int | None = None) -> TunnelError:
    """Map cloudflared's log output (stderr) when a quick tunnel did not come up."""
    tail = "\n".join((output or "").strip().splitlines()[-5:])
    details = {"output": tail[-800:], "returncode": returncode}
    if re.search(r"429|too many requests|rate.?limit", output or "", re.IGNORECASE):
        return TunnelError(
            _(
                "Cloudflare refused a new quick tunnel for port %(port)s (429 Too Many Requests): too many "
                "tunnels were requested from this network recently. Wait a few minutes and restart the tunnel, "
                "or set NGROK_AUTHTOKEN to use ngrok, or use TUNNEL_PROVIDER=lan."
            )
            % {"port": port},
            code="cloudflared_rate_limit",
            port=port,
            details=details,
        )
    return TunnelError(
        _(
            "cloudflared stopped before the quick tunnel for port %(port)s was ready. Check this computer's "
            "internet connection (cloudflared needs outbound port 7844 or 443) and restart the tunnel."
        )
        % {"port": port},
        code="cloudflared_failed",
        port=port,
        details=details,
    )


def cloudflared_timeout(*, port: int, timeout: float, output: str = "") -> TunnelError:
    if re.search(r"429|too many requests", output or "", re.IGNORECASE):
        return cloudflared_failure(output, port=port)
    return TunnelError(
        _(
            "cloudflared did not report a ready quick tunnel for port %(port)s within %(seconds)s seconds. "
            "Check the internet connection and restart the tunnel."
        )
        % {"port": port, "seconds": int(timeout)},
        code="cloudflared_timeout",
        port=port,
        details={"output": "\n".join((output or "").strip().splitlines()[-5:])[-800:]},
    )


def unreachable(public_url: str, reason: str, *, port: int | None = None) -> TunnelError:
    return TunnelError(
        _(
            "The public address %(url)s did not answer (%(reason)s). The tunnel or the MedCall web server "
            "behind it is down: restart the tunnel, and check that MedCall is running."
        )
        % {"url": public_url, "reason": reason},
        code="unreachable",
        port=port,
        details={"public_url": public_url, "reason": reason},
    )


def certificate(public_url: str, reason: str, *, port: int | None = None) -> TunnelError:
    return TunnelError(
        _(
            "The HTTPS certificate of %(url)s was not accepted (%(reason)s). For the LAN provider, delete "
            "var/tls/ so MedCall creates a new certificate; for a domain (PUBLIC_BASE_URL), renew its "
            "certificate."
        )
        % {"url": public_url, "reason": reason},
        code="certificate",
        port=port,
        details={"public_url": public_url, "reason": reason},
    )


def verify_mismatch(public_url: str, *, got: str | None, status: int | None = None) -> TunnelError:
    if got:
        message = _(
            "The public address %(url)s reaches another MedCall server, not this one. Another agent or "
            "computer is using the same address (for example the same NGROK_DOMAIN): stop it and restart the "
            "tunnel."
        ) % {"url": public_url}
    else:
        message = _(
            "The public address %(url)s answers, but not with MedCall (HTTP %(status)s). Another program is "
            "behind that address or the tunnel points at the wrong port: restart the tunnel."
        ) % {"url": public_url, "status": status if status is not None else "?"}
    return TunnelError(
        message,
        code="verify_mismatch",
        details={"public_url": public_url, "remote_instance": got, "status": status},
    )


def disabled() -> TunnelError:
    return TunnelError(disabled_reason(), code="disabled")


def disabled_reason() -> str:
    return _(
        "Public links are turned off (TUNNEL_PROVIDER=none): links only open on this computer. Set "
        "TUNNEL_PROVIDER to auto, ngrok, cloudflared, lan or static to reach patients' phones."
    )
