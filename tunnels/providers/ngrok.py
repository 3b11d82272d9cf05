"""ngrok: an agent that is already running (found through its local API), or the ngrok Python SDK.

Agent first: if the clinic's IT person already runs `ngrok http 127.0.0.1:8000`, MedCall uses that
tunnel instead of opening a second session (free accounts allow one). Otherwise the SDK opens a
session in-process with NGROK_AUTHTOKEN (and NGROK_DOMAIN, the free static domain, when set).
Agent API: GET /api/endpoints (agent 3.16+), falling back to GET /api/tunnels.
"""
from __future__ import annotations

import atexit
import concurrent.futures
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from tunnels import failures
from tunnels.providers.base import TunnelError, TunnelHandle, TunnelProvider
from tunnels.providers.localhttp import http_get

logger = logging.getLogger(__name__)

AGENT_TIMEOUT = 1.5
_sdk_shutdown_registered = False


def _register_sdk_shutdown(ngrok_module) -> None:
    """Stop the SDK's runtime before the interpreter finalizes.

    Without this, the SDK's background (tokio) threads may call into Python while it shuts down and the
    process dies with a segfault / "PyGILState_Release" abort instead of exiting with its own status
    (seen with ngrok 1.4 after any session attempt). ngrok.kill() closes its sessions first.
    """
    global _sdk_shutdown_registered
    if not _sdk_shutdown_registered:
        _sdk_shutdown_registered = True
        atexit.register(_sdk_kill, ngrok_module)


def _sdk_kill(ngrok_module) -> None:
    try:
        ngrok_module.kill()
    except Exception:
        pass


def upstream_port(address: str) -> tuple[str, int | None]:
    """("localhost", 8000) from "localhost:8000", "http://localhost:8000", "127.0.0.1:8000" or "8000"."""
    address = (address or "").strip()
    if address.isdigit():
        return "localhost", int(address)
    if "://" not in address:
        address = "tcp://" + address
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and parts.scheme in ("http", "https"):
        port = 80 if parts.scheme == "http" else 443
    return (parts.hostname or "localhost"), port


class NgrokProvider(TunnelProvider):
    name = "ngrok"

    def __init__(
        self,
        *,
        authtoken: str | None = None,
        domain: str | None = None,
        agent_api: str | None = None,
        server_addr: str | None = None,
    ):
        self.authtoken = settings.NGROK_AUTHTOKEN if authtoken is None else authtoken
        self.domain = settings.NGROK_DOMAIN if domain is None else domain
        self.agent_api = (settings.NGROK_AGENT_API if agent_api is None else agent_api).rstrip("/")
        self.server_addr = server_addr  # ngrok service address override (tests point it at loopback)
        self.mode: str | None = None  # "agent" or "sdk" once open
        self._listener = None
        self._public_url: str | None = None
        self._local_port: int | None = None

    # --- agent API -------------------------------------------------------------------------------

    def agent_answers(self) -> bool:
        try:
            reply = http_get(f"{self.agent_api}/api/tunnels", timeout=AGENT_TIMEOUT)
        except OSError:
            return False
        return reply.status == 200

    def agent_tunnels(self) -> list[dict]:
        """[{"public_url", "upstream", "name"}] from the agent; raises OSError when it does not answer."""
        reply = http_get(f"{self.agent_api}/api/endpoints", timeout=AGENT_TIMEOUT)
        if reply.status == 200:
            try:
                return [
                    {
                        "public_url": item.get("url") or item.get("public_url") or "",
                        "upstream": (item.get("upstream") or {}).get("url") or item.get("upstream_url") or "",
                        "name": item.get("name", ""),
                    }
                    for item in reply.json().get("endpoints") or []
                ]
            except (ValueError, AttributeError):
                pass
        reply = http_get(f"{self.agent_api}/api/tunnels", timeout=AGENT_TIMEOUT)
        if reply.status != 200:
            raise ConnectionError(f"ngrok agent API answered HTTP {reply.status}")
        return [
            {
                "public_url": item.get("public_url", ""),
                "upstream": (item.get("config") or {}).get("addr", ""),
                "name": item.get("name", ""),
            }
            for item in reply.json().get("tunnels") or []
        ]

    def _open_from_agent(self, local_host: str, local_port: int) -> TunnelHandle:
        tunnels = self.agent_tunnels()
        matches = [
            t for t in tunnels if t["public_url"].startswith("https://") and upstream_port(t["upstream"])[1] == local_port
        ]
        if not matches:
            raise failures.ngrok_agent_no_tunnel(
                agent_api=self.agent_api, port=local_port, forwards=sorted({t["upstream"] for t in tunnels if t["upstream"]})
            )
        # Prefer a tunnel whose upstream host is exactly the address the server binds.
        matches.sort(key=lambda t: upstream_port(t["upstream"])[0] != local_host)
        chosen = matches[0]
        details = {"mode": "agent", "agent_api": self.agent_api, "upstream": chosen["upstream"], "name": chosen["name"]}
        upstream_host = upstream_port(chosen["upstream"])[0]
        if upstream_host == "localhost" and local_host == "127.0.0.1":
            details["warning"] = failures.ngrok_localhost_warning(upstream=chosen["upstream"], port=local_port)
        self.mode = "agent"
        self._public_url = chosen["public_url"].rstrip("/")
        self._local_port = local_port
        return TunnelHandle(provider=self.name, public_url=self._public_url, local_port=local_port, details=details)

    # --- SDK -------------------------------------------------------------------------------------

    def _open_with_sdk(self, local_host: str, local_port: int, timeout: float) -> TunnelHandle:
        try:
            import ngrok  # noqa: PLC0415 - optional at import time so the app loads without it
        except ImportError:
            raise failures.sdk_missing(port=local_port)
        _register_sdk_shutdown(ngrok)
        options = {"authtoken": self.authtoken, "proto": "http"}
        if self.domain:
            options["domain"] = self.domain
        if self.server_addr:
            options["server_addr"] = self.server_addr
        # The SDK blocks until the session is up (or runs async inside a running event loop):
        # a worker thread keeps it synchronous here and lets us bound the wait.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ngrok-open")
        future = pool.submit(ngrok.forward, f"{local_host}:{local_port}", **options)
        pool.shutdown(wait=False)
        try:
            listener = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise TunnelError(
                _(
                    "ngrok did not open the tunnel for port %(port)s within %(seconds)s seconds. Check this "
                    "computer's internet connection and restart the tunnel."
                )
                % {"port": local_port, "seconds": int(timeout)},
                code="ngrok_timeout",
                port=local_port,
            )
        except Exception as exc:  # the SDK raises ValueError(message, cause[, ERR_NGROK_n])
            raise failures.ngrok_sdk_failure(exc, port=local_port)
        self.mode = "sdk"
        self._listener = listener
        self._public_url = listener.url().rstrip("/")
        self._local_port = local_port
        details = {"mode": "sdk", "domain": self.domain or ""}
        return TunnelHandle(provider=self.name, public_url=self._public_url, local_port=local_port, details=details)

    # --- interface -------------------------------------------------------------------------------

    def available(self) -> tuple[bool, str]:
        if self.agent_answers():
            return True, ""
        if self.authtoken:
            try:
                import ngrok  # noqa: F401, PLC0415
            except ImportError:
                return False, failures.sdk_missing().message
            return True, ""
        return False, failures.ngrok_unavailable_reason(agent_api=self.agent_api)

    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        self.close()
        agent_error: TunnelError | None = None
        if self.agent_answers():
            try:
                return self._open_from_agent(local_host, local_port)
            except OSError as exc:
                logger.warning("ngrok agent at %s stopped answering: %s", self.agent_api, exc)
            except TunnelError as exc:
                if not self.authtoken:
                    raise
                agent_error = exc  # the agent serves something else: open our own session instead
        if self.authtoken:
            try:
                return self._open_with_sdk(local_host, local_port, timeout)
            except TunnelError as exc:
                if agent_error is not None:
                    exc.details.setdefault("agent", agent_error.details)
                raise
        raise failures.ngrok_unavailable(agent_api=self.agent_api, port=local_port)

    def close(self) -> None:
        listener, self._listener = self._listener, None
        self._public_url = None
        self.mode = None
        if listener is None:
            return  # an agent's tunnel belongs to the agent: never stop it
        try:
            import ngrok  # noqa: PLC0415

            pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ngrok-close")
            future = pool.submit(ngrok.disconnect, listener.url())
            pool.shutdown(wait=False)
            future.result(timeout=10)
        except Exception as exc:
            logger.warning("closing the ngrok listener failed: %s", exc)

    def is_alive(self) -> bool:
        if not self._public_url:
            return False
        if self.mode == "agent":
            try:
                return any(t["public_url"].rstrip("/") == self._public_url for t in self.agent_tunnels())
            except OSError:
                return False
        try:
            import ngrok  # noqa: PLC0415

            return any(item.url().rstrip("/") == self._public_url for item in ngrok.get_listeners())
        except Exception:
            return False

    def media_note(self) -> str:
        return _(
            "ngrok carries the page, signalling and transcription over HTTPS, but not the video itself (UDP): "
            "patients on another network connect directly when their network allows it and need a TURN server "
            "(or LiveKit Cloud) otherwise."
        )
