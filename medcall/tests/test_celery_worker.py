"""The `celery_worker_process` fixture: a real worker subprocess on Redis that later tests rely on."""
import os

import environ
import pytest
from django.conf import settings
from django.db import connection

from medcall.tasks import ping
from medcall.tests.celery_worker_process import CeleryWorkerProcess, database_url_for

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs a real broker: set REDIS_URL as .ci/run does")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_runs_the_ping_task_in_a_real_worker_process(celery_worker_process):
    async_result = ping.delay()

    assert celery_worker_process.result(async_result) == "pong"
    # The answer came from the subprocess, not from an eager call in this process.
    assert celery_worker_process.process.pid != os.getpid()
    log = celery_worker_process.log_path.read_text()
    assert f"Task medcall.tasks.ping[{async_result.id}] succeeded" in log


def test_it_answers_control_pings_under_its_own_node_name(celery_worker_process):
    replies = celery_worker_process.app.control.ping(destination=[celery_worker_process.hostname], timeout=2)

    assert replies == [{celery_worker_process.hostname: {"ok": "pong"}}]


def test_it_points_the_worker_at_the_test_database(db):
    url = database_url_for(connection.settings_dict)

    parsed = environ.Env.db_url_config(url)
    assert parsed["ENGINE"] == connection.settings_dict["ENGINE"]
    assert str(parsed["NAME"]) == str(connection.settings_dict["NAME"])
    assert "test_" in str(parsed["NAME"])


@needs_redis
def test_it_leaves_no_process_behind_after_stop(transactional_db, tmp_path):
    worker = CeleryWorkerProcess(
        database_url=database_url_for(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        queues=["celery"],
        log_path=tmp_path / "worker.log",
    )
    worker.start()
    pid = worker.process.pid
    assert _group_alive(pid)

    worker.stop()

    assert worker.process.returncode is not None
    assert not _group_alive(pid)
    assert "Warm shutdown" in worker.log_path.read_text()  # SIGTERM was honoured, not a SIGKILL


@needs_redis
def test_it_reports_a_worker_that_cannot_start_with_its_log(transactional_db, tmp_path):
    worker = CeleryWorkerProcess(
        database_url=database_url_for(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        queues=["celery"],
        log_path=tmp_path / "worker.log",
        env={"DJANGO_SETTINGS_MODULE": "medcall.no_such_settings"},
    )

    with pytest.raises(RuntimeError, match="exited with code") as excinfo:
        worker.start(ready_timeout=60)

    assert "no_such_settings" in str(excinfo.value)
    assert worker.process.returncode not in (None, 0)
