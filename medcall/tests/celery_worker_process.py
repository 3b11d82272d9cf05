"""A real Celery worker subprocess for tests (used by the `celery_worker_process` fixture in conftest.py).

The worker is the same program production runs (`celery -A medcall worker`), pointed at the test
database and at REDIS_URL as broker, with eager mode off. It is started in its own process group,
declared ready only once it answers a control ping addressed to its unique node name, and stopped
with a warm shutdown (SIGTERM) followed by SIGKILL of the whole group, so no process outlives the test.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from celery import states
from celery.backends.redis import RedisBackend
from django.conf import settings

from medcall.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def database_url_for(settings_dict: dict) -> str:
    """DATABASE_URL (django-environ syntax) for a connection's settings, e.g. the test database."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine.endswith("sqlite3"):
        return f"sqlite:///{Path(name).resolve()}"
    if engine.endswith("postgresql"):
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or ""
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"
    raise ValueError(f"No DATABASE_URL form known for engine {engine!r}")


class CeleryWorkerProcess:
    """One `celery worker` subprocess consuming `queues`, plus a result backend to read its answers."""

    def __init__(self, *, database_url: str, redis_url: str, queues: list[str], log_path: Path, env: dict | None = None):
        self.redis_url = redis_url
        self.queues = queues
        self.log_path = log_path
        # A unique node name: several workers (other test runs, a developer's own worker) may share Redis.
        self.hostname = f"pytest-{uuid.uuid4().hex[:12]}@127.0.0.1"
        self.app = celery_app
        # Results are stored only for this worker's tasks; the project itself keeps no result backend.
        self.backend = RedisBackend(app=celery_app, url=redis_url)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "medcall.settings"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "medcall", "--result-backend", self.redis_url,
            "worker", "-l", "info", "-P", "solo", "-Q", ",".join(self.queues), "-n", self.hostname,
            "--without-mingle", "--without-gossip",
        ]

    def purge_queues(self) -> None:
        """Drop messages left by earlier tests so this worker only sees what this test sends."""
        with self.app.connection_for_write() as connection:
            channel = connection.default_channel
            for queue in self.queues:
                channel.queue_purge(queue)

    def start(self, *, ready_timeout: float = 60.0) -> None:
        self.purge_queues()
        self._log_file = open(self.log_path, "wb")  # a file, not a pipe: an undrained pipe blocks the worker
        self.process = subprocess.Popen(
            self.command, cwd=BASE_DIR, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                raise RuntimeError(f"Celery worker exited with code {self.process.returncode}:\n{self.log_tail()}")
            if self.app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        self.stop()
        raise RuntimeError(f"Celery worker did not answer a ping within {ready_timeout:.0f}s:\n{self.log_tail()}")

    def result(self, async_result, *, timeout: float = 30.0):
        """Wait for a task sent to this worker and return its value (re-raising its exception)."""
        task_id = getattr(async_result, "id", async_result)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            meta = self.backend.get_task_meta(task_id)
            if meta["status"] in states.READY_STATES:
                if meta["status"] != states.SUCCESS:
                    raise RuntimeError(f"Task {task_id} ended {meta['status']}: {meta.get('result')!r}")
                return meta["result"]
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Celery worker died while running task {task_id}:\n{self.log_tail()}")
            time.sleep(0.05)
        raise TimeoutError(f"Task {task_id} gave no result within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, *, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: finish the current task
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                # Hung: the whole group goes (the solo pool forks nothing, but a task might have).
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        self._close_log()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no worker log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
