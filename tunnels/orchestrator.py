"""Ordered start-up, health checks and healing of the services a patient link depends on.

Order, enforced: LiveKit ready (when used) → web server ready → tunnel opened → tunnel verified end
to end (GET <public>/healthz returns the instance id of the server we expect). The public URL is
only published (PublicEndpoint state "verified") after the last step holds, so no link is handed
out before that.

One `Orchestrator` per process owns the things it starts (the tunnel, a supervised LiveKit
server). `runtunnels` creates it with the port of the Daphne server it hosts; a Celery worker
creates it from settings (WEB_LOCAL_URL). A lease in the cache makes sure only one process at a time
heals (opens tunnels, restarts children); the others only probe.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import gettext as _

from medcall import health

from . import probes
from .models import PublicEndpoint, ServiceStatus
from .providers import provider_get
from .providers.base import TunnelError, TunnelHandle, TunnelProvider
from .services import public_endpoint_get, public_endpoint_set, service_status_set
from .verify import tunnel_verify

log = logging.getLogger(__name__)

N = ServiceStatus.Name
St = ServiceStatus.State

LEASE_KEY = "tunnels:orchestrator-lease"
LEASE_SECONDS = 60
STEP_NAMES = ("livekit", "web", "tunnel", "verify")


@dataclass
class Backoff:
    """Exponential backoff between heal attempts: 2 s, 4 s, … capped."""

    initial: float = 2.0
    cap: float = 60.0
    failures: int = 0
    next_at: float = 0.0

    def ready(self, now: float) -> bool:
        return now >= self.next_at

    def failed(self, now: float) -> float:
        delay = min(self.cap, self.initial * (2**self.failures))
        self.failures += 1
        self.next_at = now + delay
        return delay

    def reset(self) -> None:
        self.failures = 0
        self.next_at = 0.0


@dataclass
class Orchestrator:
    """Brings services up in order and keeps them healthy. Thread-safe; one per process."""

    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # The instance id the public URL must answer with. In the process that hosts Daphne it is our
    # own INSTANCE_ID; elsewhere (a Celery worker) it is read from the local web server.
    expected_instance: str | None = None
    provider_name: str | None = None
    livekit_process: object | None = None  # tunnels.livekit_server.LiveKitServerProcess when owned
    owner_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")

    def __post_init__(self):
        self._lock = threading.RLock()
        self._provider: TunnelProvider | None = None
        self._handle: TunnelHandle | None = None
        self._tunnel_backoff = Backoff()
        self._livekit_backoff = Backoff()
        self._stopping = False

    # --- public API ---------------------------------------------------------------------------

    @property
    def web_base_url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def handle(self) -> TunnelHandle | None:
        return self._handle

    @property
    def provider(self) -> TunnelProvider | None:
        return self._provider

    def bring_up(self) -> bool:
        """Run the ordered start-up once. Returns True when the public URL is verified."""
        with self._lock, translation.override(settings.LANGUAGE_CODE):
            if not self._lease_acquire():
                log.info("another process owns the tunnel; not bringing it up here")
                return public_endpoint_get().state == "verified"
            if not self._step_livekit():
                return False
            if not self._step_web():
                return False
            return self._step_tunnel_and_verify()

    def check(self, *, heal: bool = True) -> dict[str, str]:
        """Probe every service, update its status row, heal what this process owns.

        The same function runs under Celery beat and under runtunnels' supervisor loop.
        Returns {service name: state}.
        """
        with self._lock, translation.override(settings.LANGUAGE_CODE):
            owner = heal and self._lease_acquire()
            now = time.monotonic()
            states: dict[str, str] = {}
            states[N.LIVEKIT] = self._check_livekit(heal=owner, now=now)
            states[N.WEB] = self._check_web()
            states[N.REDIS] = self._record(N.REDIS, probes.probe_redis())
            states[N.WORKER] = self._record(N.WORKER, probes.probe_worker())
            states[N.TUNNEL] = self._check_tunnel(heal=owner, now=now, web_up=states[N.WEB] == St.UP)
            return states

    def restart_tunnel(self) -> bool:
        """Close the tunnel and bring everything up again (admin "restart tunnel")."""
        with self._lock:
            self._close_tunnel()
            self._tunnel_backoff.reset()
            return self.bring_up()

    def shutdown(self) -> None:
        """Close the tunnel, stop owned children, mark states down. Idempotent."""
        with self._lock, translation.override(settings.LANGUAGE_CODE):
            self._stopping = True
            self._close_tunnel()
            public_endpoint_set(provider=self._provider_label(), public_url="", state="closed", message=_("MedCall was stopped."))
            service_status_set(name=N.TUNNEL, state=St.DOWN, message=_("Tunnel closed: MedCall was stopped."))
            service_status_set(name=N.WEB, state=St.DOWN, message=_("Web server stopped (MedCall was shut down)."))
            if self.livekit_process is not None:
                try:
                    self.livekit_process.stop()
                finally:
                    service_status_set(name=N.LIVEKIT, state=St.DOWN, message=_("LiveKit server stopped (MedCall was shut down)."))
            self._lease_release()

    # --- steps --------------------------------------------------------------------------------

    def _record(self, name: str, result: probes.ProbeResult) -> str:
        service_status_set(name=name, state=result.state, message=result.message, details=result.details)
        return result.state

    def _step_livekit(self) -> bool:
        if self.livekit_process is not None:
            service_status_set(name=N.LIVEKIT, state=St.STARTING, message=_("Starting the LiveKit server…"))
            result = self.livekit_process.start()
            self._record(N.LIVEKIT, result)
            return result.state == St.UP
        if not probes.livekit_configured():
            self._record(N.LIVEKIT, probes.probe_livekit())
            return True  # disabled: calls use peer-to-peer mode
        result = probes.probe_livekit()
        self._record(N.LIVEKIT, result)
        # Degraded (e.g. wrong credentials) still lets the page load; the message says what to fix.
        return result.state in (St.UP, St.DEGRADED)

    def _step_web(self, attempts: int = 20, pause: float = 0.5) -> bool:
        # At start-up the server may be a moment away from accepting connections.
        for attempt in range(attempts):
            if self._check_web() == St.UP:
                return True
            if attempt < attempts - 1:
                time.sleep(pause)
        return False

    def _check_web(self) -> str:
        result = probes.probe_web(base_url=self.web_base_url, expected_instance=self._expected_instance())
        return self._record(N.WEB, result)

    def _expected_instance(self) -> str:
        return self.expected_instance or health.INSTANCE_ID

    def _provider_label(self) -> str:
        return self._provider.name if self._provider else (self.provider_name or settings.TUNNEL_PROVIDER)

    def _step_tunnel_and_verify(self) -> bool:
        try:
            if self._provider is None:
                self._provider = provider_get(self.provider_name)
            if self._handle is None or not self._provider.is_alive():
                public_endpoint_set(provider=self._provider.name, public_url="", state="opening", message=_("Opening the tunnel…"))
                service_status_set(name=N.TUNNEL, state=St.STARTING, message=_("Opening the tunnel (%(provider)s)…") % {"provider": self._provider.name})
                self._handle = self._provider.open(local_host=self.web_host, local_port=self.web_port)
            handle = self._handle
            public_endpoint_set(provider=handle.provider, public_url=handle.public_url, state="verifying", message=_("Verifying the tunnel end to end…"))
            tunnel_verify(handle.public_url, expected_instance=self._expected_instance(), verify=self._provider.verify_ca)
        except TunnelError as exc:
            self._tunnel_failed(exc)
            return False
        except Exception as exc:  # a provider bug must not kill the supervisor loop
            log.exception("tunnel provider failed")
            self._tunnel_failed(TunnelError(_("The tunnel could not be opened: %(error)s") % {"error": type(exc).__name__}, code="unexpected"))
            return False
        public_endpoint_set(
            provider=handle.provider,
            public_url=handle.public_url,
            state="verified",
            message=self._provider.media_note(),
            instance_id=self._expected_instance(),
        )
        service_status_set(
            name=N.TUNNEL,
            state=St.UP,
            message=_("Tunnel verified: %(url)s reaches this server.") % {"url": handle.public_url},
            details={"provider": handle.provider, "public_url": handle.public_url, "media": self._provider.media_note(), **handle.details},
        )
        self._tunnel_backoff.reset()
        _notify_pending_links(handle.public_url)
        return True

    def _tunnel_failed(self, exc: TunnelError) -> None:
        delay = self._tunnel_backoff.failed(time.monotonic())
        public_endpoint_set(provider=self._provider_label(), public_url="", state="failed", message=exc.message)
        service_status_set(
            name=N.TUNNEL,
            state=St.DOWN,
            message=exc.message,
            details={"code": exc.code, "port": exc.port, "retry_in_s": round(delay, 1), **(exc.details or {})},
        )

    def _close_tunnel(self) -> None:
        if self._provider is not None:
            try:
                self._provider.close()
            except Exception:
                log.warning("closing the tunnel failed", exc_info=True)
        self._handle = None

    def _check_livekit(self, *, heal: bool, now: float) -> str:
        proc = self.livekit_process
        if proc is not None and heal and not self._stopping and not proc.poll_alive():
            if self._livekit_backoff.ready(now):
                service_status_set(name=N.LIVEKIT, state=St.STARTING, message=_("The LiveKit server stopped; restarting it…"))
                result = proc.start()
                if result.state == St.UP:
                    self._livekit_backoff.reset()
                else:
                    self._livekit_backoff.failed(now)
                return self._record(N.LIVEKIT, result)
        return self._record(N.LIVEKIT, probes.probe_livekit())

    def _check_tunnel(self, *, heal: bool, now: float, web_up: bool) -> str:
        endpoint = public_endpoint_get()
        if self._handle is None and not heal:
            # Not the owner: verify what the owner published, if anything.
            if endpoint.state == "verified" and endpoint.public_url:
                return self._verify_published(endpoint)
            return ServiceStatus.objects.filter(name=N.TUNNEL).values_list("state", flat=True).first() or St.DOWN
        if self._handle is not None:
            alive = self._provider.is_alive()
            if alive:
                try:
                    tunnel_verify(self._handle.public_url, expected_instance=self._expected_instance(), verify=self._provider.verify_ca)
                except TunnelError as exc:
                    self._tunnel_failed(exc)
                    self._close_tunnel()
                    return St.DOWN
                service_status_set(
                    name=N.TUNNEL,
                    state=St.UP,
                    message=_("Tunnel verified: %(url)s reaches this server.") % {"url": self._handle.public_url},
                    details={"provider": self._handle.provider, "public_url": self._handle.public_url, "media": self._provider.media_note(), **self._handle.details},
                )
                if endpoint.state != "verified":
                    public_endpoint_set(provider=self._handle.provider, public_url=self._handle.public_url, state="verified", message=self._provider.media_note(), instance_id=self._expected_instance())
                return St.UP
            self._tunnel_failed(
                TunnelError(
                    _("The tunnel (%(provider)s) stopped. MedCall will reopen it automatically.") % {"provider": self._provider.name},
                    code="tunnel_dead",
                )
            )
            self._close_tunnel()
            return St.DOWN
        # No tunnel open and we are the owner: (re)open when web is up and the backoff allows.
        if heal and web_up and self._tunnel_backoff.ready(now) and not self._stopping:
            return St.UP if self._step_tunnel_and_verify() else St.DOWN
        return ServiceStatus.objects.filter(name=N.TUNNEL).values_list("state", flat=True).first() or St.DOWN

    def _verify_published(self, endpoint: PublicEndpoint) -> str:
        try:
            tunnel_verify(endpoint.public_url, expected_instance=endpoint.instance_id or self._expected_instance())
        except TunnelError as exc:
            public_endpoint_set(provider=endpoint.provider, public_url="", state="failed", message=exc.message)
            service_status_set(name=N.TUNNEL, state=St.DOWN, message=exc.message, details={"code": exc.code})
            return St.DOWN
        return St.UP

    # --- lease --------------------------------------------------------------------------------

    def _lease_acquire(self) -> bool:
        """Take or renew the right to heal. Only one process opens tunnels at a time."""
        if cache.add(LEASE_KEY, self.owner_id, LEASE_SECONDS):
            return True
        if cache.get(LEASE_KEY) == self.owner_id:
            cache.touch(LEASE_KEY, LEASE_SECONDS)
            return True
        return False

    def _lease_release(self) -> None:
        if cache.get(LEASE_KEY) == self.owner_id:
            cache.delete(LEASE_KEY)


def _notify_pending_links(public_url: str) -> None:
    # Lazy import: consultations depends on tunnels, not the other way round at import time.
    from consultations.services import patient_link_url, pending_links_mark_ready
    from medcall import realtime

    for link in pending_links_mark_ready():
        realtime.send(
            realtime.consultation_group(link.consultation_id),
            {
                "type": "link.status",
                "consultation_id": link.consultation_id,
                "status": "ready",
                "url": patient_link_url(link, public_url),
                "expires_at": link.expires_at.isoformat(),
            },
        )


# --- the process's orchestrator ---------------------------------------------------------------

_process_orchestrator: Orchestrator | None = None
_process_lock = threading.Lock()
_bring_up_thread: threading.Thread | None = None


def orchestrator_install(orchestrator: Orchestrator) -> Orchestrator:
    """Make `orchestrator` this process's orchestrator (runtunnels does this at start-up)."""
    global _process_orchestrator
    with _process_lock:
        _process_orchestrator = orchestrator
    return orchestrator


def orchestrator_for_process() -> Orchestrator:
    """This process's orchestrator; created from settings (WEB_LOCAL_URL) when none was installed."""
    global _process_orchestrator
    with _process_lock:
        if _process_orchestrator is None:
            parts = urlsplit(settings.WEB_LOCAL_URL)
            _process_orchestrator = Orchestrator(
                web_host=parts.hostname or "127.0.0.1",
                web_port=parts.port or (443 if parts.scheme == "https" else 80),
                expected_instance=None,
            )
            _process_orchestrator.expected_instance = _local_instance(settings.WEB_LOCAL_URL)
        return _process_orchestrator


def _local_instance(base_url: str) -> str | None:
    """The instance id the local web server reports, so a worker verifies the tunnel reaches it."""
    result = probes.probe_web(base_url=base_url, expected_instance="")
    return (result.details or {}).get("instance")


ACTIONS = ("bring_up", "check", "restart_tunnel")


def orchestrator_request(action: str = "bring_up") -> str:
    """Ask the process that owns the tunnel to act, without blocking the caller.

    Returns how: "supervisor" (runtunnels in this process is woken), "celery" (a task is queued for
    the worker that owns the tunnel) or "thread" (a background thread in this process).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown orchestrator action {action!r}")
    from .supervisor import Supervisor

    sup = Supervisor.current()
    if sup is not None:
        sup.request(action)
        return "supervisor"
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from django.db import transaction

        from . import tasks

        task = {"bring_up": tasks.bring_up, "check": tasks.check_services, "restart_tunnel": tasks.restart_tunnel}[action]
        transaction.on_commit(lambda: task.apply_async(expires=60))
        return "celery"
    global _bring_up_thread
    with _process_lock:
        if _bring_up_thread is not None and _bring_up_thread.is_alive():
            return "thread"
        _bring_up_thread = threading.Thread(target=_act_in_thread, args=(action,), name=f"medcall-{action}", daemon=True)
        _bring_up_thread.start()
    return "thread"


def orchestrator_kick() -> str:
    """Start bringing services up in the background (used by "Gerar link" when not ready)."""
    return orchestrator_request("bring_up")


def orchestrator_act(orchestrator: Orchestrator, action: str):
    if action == "bring_up":
        return orchestrator.bring_up()
    if action == "restart_tunnel":
        return orchestrator.restart_tunnel()
    return orchestrator.check(heal=True)


def _act_in_thread(action: str) -> None:
    from django.db import close_old_connections

    try:
        orchestrator_act(orchestrator_for_process(), action)
    except Exception:
        log.exception("background %s failed", action)
    finally:
        close_old_connections()


def link_steps() -> list[dict[str, str]]:
    """The start-up steps as the doctor sees them while a link is being prepared, read from the
    status rows (no network I/O)."""
    rows = {r.name: r for r in ServiceStatus.objects.filter(name__in=[N.LIVEKIT, N.WEB, N.TUNNEL])}
    endpoint = public_endpoint_get()

    def row_step(name: str, label: str) -> dict[str, str]:
        row = rows.get(name)
        if row is None:
            return {"name": label, "state": "pending", "message": ""}
        state = {"up": "ok", "disabled": "skipped", "starting": "running", "degraded": "ok", "down": "failed"}.get(row.state, "pending")
        return {"name": label, "state": state, "message": row.message}

    tunnel_state = {"opening": "running", "verifying": "ok", "verified": "ok", "failed": "failed"}.get(endpoint.state, "pending")
    verify_state = {"verifying": "running", "verified": "ok", "failed": "failed"}.get(endpoint.state, "pending")
    return [
        row_step(N.LIVEKIT, "livekit"),
        row_step(N.WEB, "web"),
        {"name": "tunnel", "state": tunnel_state, "message": endpoint.message if endpoint.state in ("opening", "failed") else ""},
        {"name": "verify", "state": verify_state, "message": endpoint.message if endpoint.state in ("verifying", "verified") else ""},
    ]
