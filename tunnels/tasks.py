"""Celery tasks of the tunnels app. The schedule lives in settings.CELERY_BEAT_SCHEDULE."""
from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from .orchestrator import orchestrator_for_process

log = logging.getLogger(__name__)

CHECK_LOCK = "tunnels:check-services-lock"


@shared_task(name="tunnels.check_services", ignore_result=True, soft_time_limit=12, time_limit=14)
def check_services() -> dict | None:
    """Probe every service, update states, heal what this worker owns; never overlaps itself."""
    if not cache.add(CHECK_LOCK, "1", timeout=14):
        log.info("check_services already running; skipped")
        return None
    try:
        return orchestrator_for_process().check(heal=True)
    finally:
        cache.delete(CHECK_LOCK)


@shared_task(name="tunnels.bring_up", ignore_result=True, soft_time_limit=90, time_limit=100)
def bring_up() -> bool:
    """Ordered start-up (LiveKit → web → tunnel → verify), queued by "Gerar link" when not ready."""
    return orchestrator_for_process().bring_up()


@shared_task(name="tunnels.restart_tunnel", ignore_result=True, soft_time_limit=90, time_limit=100)
def restart_tunnel() -> bool:
    """Admin "restart tunnel": close and reopen + verify, in the worker that owns the tunnel."""
    return orchestrator_for_process().restart_tunnel()
