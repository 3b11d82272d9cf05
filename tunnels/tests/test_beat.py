"""Celery beat + a real worker against Redis: the `check-services` schedule runs `check_services`
in the worker, which probes and records every service."""
import subprocess
import sys
import time

import pytest
from django.conf import settings

from tunnels.models import ServiceStatus

pytestmark = pytest.mark.slow


@pytest.fixture
def celery_worker_env():
    # Check every second so the test sees several runs; the worker has no web server to reach.
    return {"SERVICE_CHECK_INTERVAL": "1", "WEB_LOCAL_URL": "http://127.0.0.1:9", "LIVEKIT_URL": ""}


def test_it_is_scheduled_every_15_seconds_and_expires_before_the_next_run():
    entry = settings.CELERY_BEAT_SCHEDULE["check-services"]
    assert entry["task"] == "tunnels.check_services"
    assert entry["options"]["expires"] < entry["schedule"]


def test_it_runs_check_services_from_beat_in_a_real_worker(celery_worker_process, celery_worker_env, tmp_path):
    from django.core.cache import cache

    from tunnels.orchestrator import LEASE_KEY
    from tunnels.tasks import CHECK_LOCK

    cache.delete(LEASE_KEY)
    cache.delete(CHECK_LOCK)
    log = open(tmp_path / "beat.log", "wb")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "medcall", "beat", "-l", "info", "-s", str(tmp_path / "beat-schedule"),
         "--scheduler", "celery.beat:PersistentScheduler"],
        env={**celery_worker_process.env, **celery_worker_env}, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen_checks = set()
        while time.monotonic() < deadline and len(seen_checks) < 2:
            row = ServiceStatus.objects.filter(name="redis").first()
            if row is not None and row.checked_at is not None:
                seen_checks.add(row.checked_at)
            time.sleep(0.3)
        assert len(seen_checks) >= 2, (tmp_path / "beat.log").read_text() + celery_worker_process.log_tail()
    finally:
        beat.terminate()
        beat.wait(15)
        log.close()
    rows = {r.name: r for r in ServiceStatus.objects.all()}
    assert rows["redis"].state == "up"
    assert rows["worker"].state == "up"  # the probe pinged the worker it runs in
    assert rows["web"].state == "down" and "127.0.0.1:9" in rows["web"].message
    assert rows["livekit"].state == "disabled"
    assert "tunnels.check_services" in celery_worker_process.log_path.read_text()
