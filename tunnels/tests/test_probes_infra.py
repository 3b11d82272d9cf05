"""probe_redis, probe_worker and probe_web against real services on loopback: the Redis server, a real
Celery worker process, and this project's own /healthz served by a live server."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings as django_settings

from medcall import health
from tunnels import probes
from tunnels.tests.doubles.livekit import LiveKitHTTPDouble, free_port

REPO = Path(__file__).resolve().parents[2]
# This helper's own Redis database (db 4) so parallel test runs never share state.
TEST_REDIS_URL = os.environ.get("HEALTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def _redis_answers(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        return True
    except redis.RedisError:
        return False


requires_redis = pytest.mark.skipif(
    not _redis_answers(TEST_REDIS_URL), reason=f"needs a Redis server at {TEST_REDIS_URL} (CI starts one)"
)


# --- Redis --------------------------------------------------------------------------------------------


def test_it_disables_redis_when_redis_url_is_empty(settings):
    settings.REDIS_URL = ""

    result = probes.probe_redis()

    assert result.state == probes.DISABLED
    assert "REDIS_URL" in result.message
    assert "próprio processo" in result.message


@requires_redis
def test_it_reports_redis_up_when_it_answers_ping():
    result = probes.probe_redis(url=TEST_REDIS_URL)

    assert result.state == probes.UP
    assert result.details["address"] == "127.0.0.1:6379"


def test_it_reports_redis_down_with_port_and_fix_and_no_password():
    port = free_port()

    result = probes.probe_redis(url=f"redis://:hunter2-password@127.0.0.1:{port}/0", timeout=0.5)

    assert result.state == probes.DOWN
    assert f"127.0.0.1:{port}" in result.message
    assert "redis-server" in result.message
    assert "hunter2" not in result.message + repr(result.details)


# --- Celery worker --------------------------------------------------------------------------------------


def test_it_disables_the_worker_probe_in_eager_mode(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    result = probes.probe_worker()

    assert result.state == probes.DISABLED
    assert "tarefas rodam no próprio processo" in result.message


def test_it_reports_the_worker_down_when_the_broker_is_unreachable():
    port = free_port()
    app = Celery("probe-unreachable", broker=f"redis://127.0.0.1:{port}/0")

    result = probes.probe_worker(app=app, timeout=0.5)

    assert result.state == probes.DOWN
    assert f"127.0.0.1:{port}" in result.message
    assert "celery -A medcall worker -l info" in result.message


@requires_redis
def test_it_reports_the_worker_down_when_no_worker_answers():
    app = Celery("probe-idle", broker=TEST_REDIS_URL)

    result = probes.probe_worker(app=app, timeout=0.5)

    assert result.state == probes.DOWN
    assert result.details["workers"] == []
    assert "celery -A medcall worker -l info" in result.message


@requires_redis
@pytest.mark.slow
def test_it_reports_the_worker_up_when_a_real_worker_answers_the_heartbeat(tmp_path):
    env = {**os.environ, "REDIS_URL": TEST_REDIS_URL, "CELERY_TASK_ALWAYS_EAGER": "false"}
    env.pop("DATABASE_URL", None)  # the worker only needs the broker for a ping
    env["VAR_DIR"] = str(tmp_path)
    hostname = f"health-probe-{os.getpid()}@localhost"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "medcall", "worker", "--pool", "solo", "-n", hostname, "-l", "warning",
         "--without-gossip", "--without-mingle"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    app = Celery("probe-live", broker=TEST_REDIS_URL)
    try:
        deadline = time.monotonic() + 90
        result = probes.probe_worker(app=app, timeout=1.0)
        while result.state != probes.UP and time.monotonic() < deadline and worker.poll() is None:
            result = probes.probe_worker(app=app, timeout=1.0)
        assert worker.poll() is None, worker.stderr.read().decode(errors="replace")[-2000:]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)

    assert result.state == probes.UP
    assert hostname in result.details["workers"]


# --- Web server (/healthz) ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_reports_the_web_server_up_when_this_instance_answers(live_server):
    result = probes.probe_web(base_url=live_server.url + "/", expected_instance=health.INSTANCE_ID)

    assert result.state == probes.UP
    assert result.details["instance"] == health.INSTANCE_ID


@pytest.mark.django_db(transaction=True)
def test_it_reports_degraded_when_another_medcall_instance_answers(live_server):
    result = probes.probe_web(base_url=live_server.url, expected_instance="someone-else")

    assert result.state == probes.DEGRADED
    assert health.INSTANCE_ID in result.message
    assert "someone-else" in result.message


def test_it_reports_the_web_server_down_with_the_fix_when_nothing_listens():
    port = free_port()

    result = probes.probe_web(base_url=f"http://127.0.0.1:{port}", expected_instance=health.INSTANCE_ID)

    assert result.state == probes.DOWN
    assert f"127.0.0.1:{port}" in result.message
    assert "runtunnels" in result.message


def test_it_reports_the_web_server_down_when_it_does_not_answer_in_time():
    # Any server that accepts the connection and then stalls (here the LiveKit double's "slow" mode).
    with LiveKitHTTPDouble(mode="slow", slow_seconds=5) as stalled:
        result = probes.probe_web(base_url=stalled.url, expected_instance=health.INSTANCE_ID, timeout=0.3)

    assert result.state == probes.DOWN
    assert result.details["error"] == "timeout"


def test_it_reports_degraded_when_the_address_is_not_a_medcall_server():
    with LiveKitHTTPDouble() as other:  # answers 404 on /healthz: some other program owns the port
        result = probes.probe_web(base_url=other.url, expected_instance=health.INSTANCE_ID)

    assert result.state == probes.DEGRADED
    assert result.details["http_status"] == 404


def test_it_probes_in_the_site_language_whatever_the_active_language():
    from django.utils import translation

    with translation.override("en"):
        result = probes.probe_web(base_url=f"http://127.0.0.1:{free_port()}", expected_instance="x")

    assert django_settings.LANGUAGE_CODE == "pt-br"
    assert "não responde" in result.message
