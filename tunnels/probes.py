"""Health probes for the services a link depends on: LiveKit, Redis, the Celery worker, the web server.

Each probe is a plain function returning a `ProbeResult` whose message is user-facing, in
settings.LANGUAGE_CODE (pt-BR), and names the service, the address/port and the fix. Probes never
raise for an unhealthy service, and never put secrets into messages or details. They make network
calls, so they run in the supervisor / Celery beat / orchestrator — never on a request path.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlparse

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

UP = "up"
STARTING = "starting"
DEGRADED = "degraded"
DOWN = "down"
DISABLED = "disabled"


@dataclass(frozen=True)
class ProbeResult:
    state: str
    message: str
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == UP


def _in_site_language():
    """Probes run outside requests (beat, supervisor); their messages are stored for everyone to
    read, so they are written in the site language, never in whatever language a thread last used."""
    return translation.override(settings.LANGUAGE_CODE)


# Loopback services must be reached directly even when HTTP(S)_PROXY is set in the environment.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class _HTTPAnswer:
    status: int
    body: bytes


def _http_get(url: str, *, timeout: float, headers: dict | None = None) -> _HTTPAnswer:
    """GET returning status and (bounded) body for any HTTP status; raises OSError-family errors
    (refused, timeout, DNS) for transport failures."""
    request = urllib.request.Request(url, headers=headers or {}, method="GET")
    try:
        with _NO_PROXY_OPENER.open(request, timeout=timeout) as response:
            return _HTTPAnswer(response.status, response.read(64 * 1024))
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(64 * 1024)
        except Exception:
            body = b""
        return _HTTPAnswer(exc.code, body)


def _transport_reason(exc: BaseException) -> str:
    """A short, untranslated technical reason for details (never shown as the message itself)."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError):
        return "timeout"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return type(reason).__name__


def _is_timeout(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, TimeoutError)


def _hostport(url: str, default_port: int | None = None) -> str:
    """host:port of a URL, without credentials (URLs such as redis://:password@host may carry them)."""
    parsed = urlparse(url)
    host = parsed.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parsed.port
    except ValueError:
        port = None
    if port is None:
        port = default_port or {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parsed.scheme)
    return f"{host}:{port}" if port else host


# --- LiveKit -----------------------------------------------------------------------------------------


def livekit_url() -> str:
    """The HTTP(S) URL this server uses to reach LiveKit: LIVEKIT_URL, or the auto-started local
    server on LIVEKIT_PORT. ws(s):// is accepted and mapped to http(s)://, as the SDKs do."""
    url = (settings.LIVEKIT_URL or "").strip() or f"http://127.0.0.1:{settings.LIVEKIT_PORT}"
    if url.startswith("ws"):
        url = "http" + url[2:]
    return url.rstrip("/")


def livekit_configured() -> bool:
    """LiveKit is in use when LIVEKIT_URL is set, or auto-start is on and a binary is available."""
    if (settings.LIVEKIT_URL or "").strip():
        return True
    if settings.LIVEKIT_AUTOSTART:
        from .livekit_server import livekit_binary_find

        return livekit_binary_find() is not None
    return False


def _livekit_disabled() -> ProbeResult:
    return ProbeResult(
        DISABLED,
        _(
            "LiveKit is not configured, so calls use the built-in peer-to-peer mode (no media server). "
            "To use LiveKit, set LIVEKIT_URL or turn on LIVEKIT_AUTOSTART with a livekit-server binary."
        ),
        {},
    )


def _run_coroutine(coro_factory, *, timeout: float):
    """Run an async call (livekit-api is aiohttp-based) from sync code, in a fresh event loop,
    bounded by `timeout`. Inside a running loop (an async caller) it runs on a helper thread,
    because a loop cannot be nested."""

    def runner():
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(asyncio.wait_for(coro_factory(), timeout))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return runner()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner).result()


def _livekit_list_rooms(url: str, api_key: str, api_secret: str, timeout: float) -> int:
    """Authenticated RoomService.ListRooms (Twirp) through livekit-api; returns the room count."""
    import aiohttp
    from livekit import api as lkapi

    async def call():
        # failover=False: region failover only exists for LiveKit Cloud and would add retries.
        client = lkapi.LiveKitAPI(
            url, api_key, api_secret, timeout=aiohttp.ClientTimeout(total=timeout), failover=False
        )
        try:
            response = await client.room.list_rooms(lkapi.ListRoomsRequest())
            return len(response.rooms)
        finally:
            await client.aclose()

    return _run_coroutine(call, timeout=timeout)


def probe_livekit(
    *, url: str | None = None, api_key=None, api_secret=None, timeout: float = 2.0
) -> ProbeResult:
    """GET <livekit>/ (200 "OK" = up, 406 = starting, refused/timeout = down), then an authenticated
    ListRooms call: rejected credentials are `degraded` (the server runs; the keys are wrong)."""
    with _in_site_language():
        if url is None:
            if not livekit_configured():
                return _livekit_disabled()
            url = livekit_url()
        url = url.rstrip("/")
        if url.startswith("ws"):
            url = "http" + url[2:]
        where = _hostport(url)
        details: dict = {"address": where}

        try:
            answer = _http_get(url + "/", timeout=timeout)
        except (OSError, ValueError) as exc:
            details["error"] = _transport_reason(exc)
            if _is_timeout(exc):
                message = _(
                    "LiveKit did not answer within %(seconds)s s at %(where)s. It may be overloaded or "
                    "stuck: check the livekit-server logs and restart it."
                ) % {"seconds": f"{timeout:g}", "where": where}
            else:
                message = _(
                    "LiveKit is not responding at %(where)s. Start the LiveKit server "
                    "(livekit-server --dev) or turn on LIVEKIT_AUTOSTART."
                ) % {"where": where}
            return ProbeResult(DOWN, message, details)

        details["http_status"] = answer.status
        if answer.status == 406:
            return ProbeResult(
                STARTING,
                _(
                    "LiveKit is starting at %(where)s (not ready yet). Wait a few seconds; if this "
                    "persists, check the livekit-server logs."
                )
                % {"where": where},
                details,
            )
        if answer.status != 200 or answer.body.strip() != b"OK":
            return ProbeResult(
                DEGRADED,
                _(
                    "Something answers at %(where)s, but it is not a ready LiveKit server (HTTP %(status)s). "
                    "Check LIVEKIT_URL / LIVEKIT_PORT, or stop the other program using that port."
                )
                % {"where": where, "status": answer.status},
                details,
            )

        api_key = api_key if api_key is not None else settings.LIVEKIT_API_KEY
        api_secret = api_secret if api_secret is not None else settings.LIVEKIT_API_SECRET
        if not api_key or not api_secret:
            return ProbeResult(
                DEGRADED,
                _(
                    "LiveKit is running at %(where)s, but LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not "
                    "set. Set them to the keys of your LiveKit server (devkey / secret for livekit-server --dev)."
                )
                % {"where": where},
                details,
            )

        from livekit.api.twirp_client import ServerError

        try:
            details["rooms"] = _livekit_list_rooms(url, api_key, api_secret, timeout)
        except ServerError as exc:
            details["api_status"] = exc.status
            details["api_code"] = exc.code
            if exc.status in (401, 403) or exc.code in ("unauthenticated", "permission_denied"):
                message = _(
                    "LiveKit credentials are invalid: the server at %(where)s rejected LIVEKIT_API_KEY / "
                    "LIVEKIT_API_SECRET. Use the same key and secret as the LiveKit server (livekit.yaml, "
                    "or devkey / secret for livekit-server --dev)."
                ) % {"where": where}
            else:
                message = _(
                    "LiveKit at %(where)s answers, but its API call failed (%(code)s). Check the "
                    "livekit-server logs and restart it."
                ) % {"where": where, "code": exc.code}
            return ProbeResult(DEGRADED, message, details)
        except TimeoutError as exc:
            details["error"] = _transport_reason(exc)
            return ProbeResult(
                DEGRADED,
                _(
                    "LiveKit at %(where)s answers its health check, but its API did not reply within "
                    "%(seconds)s s. Check the livekit-server logs and restart it."
                )
                % {"where": where, "seconds": f"{timeout:g}"},
                details,
            )
        except Exception as exc:  # aiohttp.ClientError and friends: transport failure mid-probe
            details["error"] = type(exc).__name__
            return ProbeResult(
                DEGRADED,
                _(
                    "LiveKit at %(where)s answers its health check, but its API could not be reached. "
                    "Check the livekit-server logs and restart it."
                )
                % {"where": where},
                details,
            )

        return ProbeResult(UP, _("LiveKit is running at %(where)s.") % {"where": where}, details)


# --- Redis -------------------------------------------------------------------------------------------


def probe_redis(*, url: str | None = None, timeout: float = 1.0) -> ProbeResult:
    """PING the Redis server behind cache, channel layer and Celery broker (when REDIS_URL is set)."""
    import redis

    with _in_site_language():
        url = url if url is not None else settings.REDIS_URL
        if not url:
            return ProbeResult(
                DISABLED,
                _(
                    "Redis is not configured (REDIS_URL is empty): cache, live updates and background "
                    "tasks run inside this process. Set REDIS_URL to run several servers or Celery workers."
                ),
                {},
            )
        where = _hostport(url, default_port=6379)
        details: dict = {"address": where}
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        except redis.AuthenticationError as exc:
            details["error"] = type(exc).__name__
            return ProbeResult(
                DEGRADED,
                _(
                    "Redis at %(where)s refused the password in REDIS_URL. Fix the password in REDIS_URL "
                    "(or REDIS_URL_FILE)."
                )
                % {"where": where},
                details,
            )
        except (redis.RedisError, OSError, ValueError) as exc:
            details["error"] = type(exc).__name__
            return ProbeResult(
                DOWN,
                _(
                    "Redis is not responding at %(where)s. Start Redis (redis-server) or fix REDIS_URL."
                )
                % {"where": where},
                details,
            )
        return ProbeResult(UP, _("Redis is answering at %(where)s.") % {"where": where}, details)


# --- Celery worker -----------------------------------------------------------------------------------


def probe_worker(*, timeout: float = 2.0, app=None) -> ProbeResult:
    """Ask Celery workers for a heartbeat (control ping) when a real broker is configured.

    `app` defaults to the project's Celery app; passing another lets a caller probe a different broker."""
    with _in_site_language():
        if app is None:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                return ProbeResult(
                    DISABLED,
                    _(
                        "No background worker is needed: tasks run in this process (Celery eager mode). "
                        "Set REDIS_URL to use Celery workers."
                    ),
                    {},
                )
            from medcall.celery import app

        broker_url = app.conf.broker_url or ""
        where = _hostport(broker_url, default_port=6379) if "://" in broker_url else broker_url
        details: dict = {"broker": where}
        start_hint = "celery -A medcall worker -l info"
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        except Exception as exc:
            details["error"] = type(exc).__name__
            return ProbeResult(
                DOWN,
                _(
                    "The Celery broker at %(where)s is not reachable, so no background worker can run. "
                    "Start Redis (redis-server) or fix REDIS_URL / CELERY_BROKER_URL, then start a worker: "
                    "%(command)s"
                )
                % {"where": where, "command": start_hint},
                details,
            )
        try:
            replies = app.control.ping(timeout=timeout) or []
        except Exception as exc:
            details["error"] = type(exc).__name__
            replies = []
        workers = sorted(name for reply in replies for name in reply)
        # Run by beat's check_services inside a worker: a solo/busy worker cannot answer its own
        # broadcast ping while it runs this task, yet it is plainly alive.
        from celery import current_task

        own = getattr(getattr(current_task, "request", None), "hostname", None) if current_task else None
        if own and own not in workers:
            workers.append(own)
        details["workers"] = workers
        if not workers:
            return ProbeResult(
                DOWN,
                _(
                    "No Celery worker answered within %(seconds)s s (broker %(where)s). Start one: %(command)s"
                )
                % {"seconds": f"{timeout:g}", "where": where, "command": start_hint},
                details,
            )
        return ProbeResult(
            UP,
            _("%(count)s Celery worker(s) answering (broker %(where)s).") % {"count": len(workers), "where": where},
            details,
        )


# --- Web server (directly or through the tunnel) -----------------------------------------------------


def probe_web(*, base_url: str, expected_instance: str, timeout: float = 2.0) -> ProbeResult:
    """GET <base_url>/healthz and check it is *this* server answering (its INSTANCE_ID).

    Works for the local address and for a public tunnel URL (the ngrok browser warning is skipped)."""
    with _in_site_language():
        base_url = base_url.rstrip("/")
        where = _hostport(base_url)
        details: dict = {"address": where}
        try:
            answer = _http_get(
                base_url + "/healthz",
                timeout=timeout,
                headers={"ngrok-skip-browser-warning": "1", "Accept": "application/json"},
            )
        except (OSError, ValueError) as exc:
            details["error"] = _transport_reason(exc)
            if _is_timeout(exc):
                message = _(
                    "The MedCall web server did not answer within %(seconds)s s at %(where)s. It may be "
                    "overloaded or stuck: restart it (python manage.py runtunnels)."
                ) % {"seconds": f"{timeout:g}", "where": where}
            else:
                message = _(
                    "The MedCall web server is not responding at %(where)s. Start it with "
                    "python manage.py runtunnels (or make run)."
                ) % {"where": where}
            return ProbeResult(DOWN, message, details)

        details["http_status"] = answer.status
        body_text = answer.body.decode("utf-8", "replace")
        if "ERR_NGROK_" in body_text:
            # The tunnel agent answered instead of us; keep the code for the tunnel provider to explain.
            start = body_text.index("ERR_NGROK_")
            details["error_code"] = body_text[start : start + 14].strip()
        try:
            payload = json.loads(body_text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "instance" not in payload:
            return ProbeResult(
                DEGRADED,
                _(
                    "Something answers at %(where)s (HTTP %(status)s), but it is not this MedCall server's "
                    "health check. Check that the address points to this server's port."
                )
                % {"where": where, "status": answer.status},
                details,
            )
        instance = str(payload.get("instance", ""))
        details["instance"] = instance
        if instance != expected_instance:
            return ProbeResult(
                DEGRADED,
                _(
                    "%(where)s is answered by another MedCall server (instance %(found)s, expected "
                    "%(expected)s). Stop the other server, or point the tunnel to this server's port."
                )
                % {"where": where, "found": instance, "expected": expected_instance},
                details,
            )
        if answer.status != 200:
            failing = [str(name) for name in payload.get("failing", [])]
            details["failing"] = failing
            return ProbeResult(
                DEGRADED,
                _(
                    "The MedCall web server at %(where)s is running but a dependency is failing "
                    "(%(failing)s). Check that the database and Redis are running."
                )
                % {"where": where, "failing": ", ".join(failing) or answer.status},
                details,
            )
        return ProbeResult(UP, _("The MedCall web server is answering at %(where)s.") % {"where": where}, details)
