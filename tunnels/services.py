"""Writes (and the cheap cached read) of service health and the public endpoint.

Callers: probes' consumers (runtunnels supervisor, Celery beat `check_services`), the tunnel
orchestrator, the admin status page. `public_url_get()` is on the request path of every page that
shows or builds a patient link, so it does no network I/O and at most one small query per TTL.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from medcall import realtime

from .models import PublicEndpoint, ServiceStatus

PUBLIC_URL_CACHE_KEY = "tunnels:public_url"
PUBLIC_URL_CACHE_TTL = 5  # seconds: bounds staleness across processes whose local cache we cannot clear
# Cached stand-in for "no verified URL": cache.get() returns None on a miss, so None cannot be cached.
_NO_URL = "-"

# details are shown in the admin and pushed to browsers: never store anything that looks secret.
_SECRET_MARKERS = ("secret", "password", "token", "authtoken", "api_key", "apikey", "authorization")


def _scrub(details: Any) -> Any:
    if isinstance(details, dict):
        return {
            str(k): ("***" if any(m in str(k).lower() for m in _SECRET_MARKERS) else _scrub(v))
            for k, v in details.items()
        }
    if isinstance(details, (list, tuple)):
        return [_scrub(v) for v in details]
    return details


def _event(status: ServiceStatus) -> realtime.ServiceStatusEvent:
    return realtime.ServiceStatusEvent(
        type="service.status",
        name=status.name,
        state=status.state,
        message=status.message,
        checked_at=status.checked_at.isoformat() if status.checked_at else None,
    )


def service_status_set(*, name: str, state: str, message: str = "", details: dict | None = None) -> ServiceStatus:
    """Record the result of a check for one service (upsert).

    checked_at is always now; last_ok_at moves when the state is `up`; changed_at moves when the state
    changes. When the state or the message changed, a `service.status` event goes to the
    SERVICE_STATUS_GROUP after commit. `message` is stored in the site language (pt-BR)."""
    if name not in ServiceStatus.Name.values:
        raise ValueError(f"unknown service {name!r}; expected one of {ServiceStatus.Name.values}")
    if state not in ServiceStatus.State.values:
        raise ValueError(f"unknown state {state!r}; expected one of {ServiceStatus.State.values}")
    with translation.override(settings.LANGUAGE_CODE):
        message = str(message or "")  # evaluates lazy strings in the site language
    now = timezone.now()
    with transaction.atomic():
        status, created = ServiceStatus.objects.select_for_update().get_or_create(
            name=name, defaults={"state": state, "changed_at": now}
        )
        changed = created or status.state != state or status.message != message
        if created or status.state != state:
            status.changed_at = now
        status.state = state
        status.message = message
        status.details = _scrub(details or {})
        status.checked_at = now
        if state == ServiceStatus.State.UP:
            status.last_ok_at = now
        status.save()
        if changed:
            realtime.send_on_commit(realtime.SERVICE_STATUS_GROUP, dict(_event(status)))
    return status


def _initial_status(name: str) -> tuple[str, str]:
    """State and message for a service never checked yet: `disabled` when this installation does not
    use it (no probe will ever change that), else `down` until the first check says otherwise."""
    from . import probes

    if name == ServiceStatus.Name.LIVEKIT and not probes.livekit_configured():
        result = probes.probe_livekit()  # not configured: answers without network I/O
        return result.state, result.message
    if name == ServiceStatus.Name.REDIS and not settings.REDIS_URL:
        result = probes.probe_redis()
        return result.state, result.message
    if name == ServiceStatus.Name.WORKER and settings.CELERY_TASK_ALWAYS_EAGER:
        result = probes.probe_worker()
        return result.state, result.message
    if name == ServiceStatus.Name.TUNNEL and getattr(settings, "TUNNEL_PROVIDER", "") == "none":
        return ServiceStatus.State.DISABLED, _(
            "No tunnel is used (TUNNEL_PROVIDER=none): links only work where this server's address is reachable."
        )
    return ServiceStatus.State.DOWN, _("Not checked yet. Start everything with python manage.py runtunnels.")


def service_status_all() -> list[ServiceStatus]:
    """One row per service, in a fixed order (web, livekit, tunnel, redis, worker); rows that do not
    exist yet are created as `disabled` (not used here) or `down` (not checked yet)."""
    rows = {s.name: s for s in ServiceStatus.objects.all()}
    missing = [name for name in ServiceStatus.Name.values if name not in rows]
    if missing:
        with translation.override(settings.LANGUAGE_CODE):
            for name in missing:
                state, message = _initial_status(name)
                rows[name], _created = ServiceStatus.objects.get_or_create(
                    name=name, defaults={"state": state, "message": str(message)}
                )
    return [rows[name] for name in ServiceStatus.Name.values]


def public_endpoint_get() -> PublicEndpoint:
    """The singleton row (created `closed` on first use)."""
    endpoint, _created = PublicEndpoint.objects.get_or_create(pk=PublicEndpoint.SINGLETON_PK)
    return endpoint


def _public_url_cache_clear() -> None:
    cache.delete(PUBLIC_URL_CACHE_KEY)


def public_endpoint_set(
    *, provider: str, public_url: str, state: str, message: str = "", instance_id: str = ""
) -> PublicEndpoint:
    """Record where the tunnel stands. `verified` stamps verified_at; the cached public URL is
    dropped now and again after commit (so no reader re-caches the old value in between)."""
    if state not in PublicEndpoint.State.values:
        raise ValueError(f"unknown endpoint state {state!r}; expected one of {PublicEndpoint.State.values}")
    with translation.override(settings.LANGUAGE_CODE):
        message = str(message or "")
    public_url = (public_url or "").strip().rstrip("/")
    with transaction.atomic():
        endpoint, _created = PublicEndpoint.objects.select_for_update().get_or_create(pk=PublicEndpoint.SINGLETON_PK)
        endpoint.provider = provider or ""
        endpoint.public_url = public_url
        endpoint.state = state
        endpoint.message = message
        endpoint.instance_id = instance_id or ""
        if state == PublicEndpoint.State.VERIFIED:
            endpoint.verified_at = timezone.now()
        endpoint.save()
        _public_url_cache_clear()
        transaction.on_commit(_public_url_cache_clear)
    return endpoint


def public_url_get() -> str | None:
    """The verified public base URL (no trailing slash), or None while no tunnel is verified.

    Read on each request: served from the Django cache for PUBLIC_URL_CACHE_TTL seconds, else one
    indexed query. Never touches the network."""
    cached = cache.get(PUBLIC_URL_CACHE_KEY)
    if cached is not None:
        return None if cached == _NO_URL else cached
    url = (
        PublicEndpoint.objects.filter(pk=PublicEndpoint.SINGLETON_PK, state=PublicEndpoint.State.VERIFIED)
        .exclude(public_url="")
        .values_list("public_url", flat=True)
        .first()
    )
    cache.set(PUBLIC_URL_CACHE_KEY, url or _NO_URL, PUBLIC_URL_CACHE_TTL)
    return url or None
