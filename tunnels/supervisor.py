"""The supervisor loop: the embedded-mode stand-in for Celery beat.

It runs in a thread of the `runtunnels` process, next to the Daphne server it hosts, so status
events reach browsers through the in-memory channel layer. It calls the same Orchestrator
functions that the `check_services` Celery task calls.
"""
from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections

from .orchestrator import Orchestrator, orchestrator_act

log = logging.getLogger(__name__)


class Supervisor:
    _current: Supervisor | None = None
    _current_lock = threading.Lock()

    def __init__(self, orchestrator: Orchestrator, *, interval: float = 5.0, on_change=None):
        self.orchestrator = orchestrator
        self.interval = interval
        self.on_change = on_change  # called with the states dict after each check (terminal output)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requests: list[str] = []
        self._next_periodic: dict[str, float] = {}
        self._tasks_imported = False
        self._requests_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the first bring-up has verified the public URL

    @classmethod
    def current(cls) -> Supervisor | None:
        with cls._current_lock:
            return cls._current

    def start(self) -> None:
        with Supervisor._current_lock:
            Supervisor._current = self
        self._thread = threading.Thread(target=self._run, name="medcall-supervisor", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run a check now instead of waiting for the next tick."""
        self.request("check")

    def request(self, action: str) -> None:
        """Queue an orchestrator action ("bring_up", "check", "restart_tunnel") for the loop."""
        with self._requests_lock:
            if action not in self._requests:
                self._requests.append(action)
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with Supervisor._current_lock:
            if Supervisor._current is self:
                Supervisor._current = None

    def _run(self) -> None:
        try:
            if self.orchestrator.bring_up():
                self.ready.set()
        except Exception:
            log.exception("start-up failed; the next check retries")
        self._report()
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            # One failing iteration must not end supervision: log it and go on with the next tick.
            try:
                self._tick()
            except Exception:
                log.exception("supervisor check failed")
            finally:
                close_old_connections()

    def _tick(self) -> None:
        with self._requests_lock:
            requests, self._requests = self._requests, []
        for action in requests:
            if action != "check":
                orchestrator_act(self.orchestrator, action)
        states = self.orchestrator.check(heal=True)
        if states.get("tunnel") == "up":
            self.ready.set()
        self._report(states)
        self._run_periodic_tasks()

    def _run_periodic_tasks(self) -> None:
        """Embedded stand-in for Celery beat: run the other entries of CELERY_BEAT_SCHEDULE (e.g.
        the transcription retry sweep) in this process at their interval."""
        from celery import current_app
        from django.conf import settings

        if not self._tasks_imported:
            current_app.loader.import_default_modules()  # autodiscovery: a worker does this at start
            self._tasks_imported = True
        now = time.monotonic()
        for name, entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).items():
            task_name, every = entry.get("task"), entry.get("schedule")
            if task_name == "tunnels.check_services" or not isinstance(every, (int, float)):
                continue  # the check is the loop itself; crontab entries need real beat
            # First run a little after start-up (not during it), then at the entry's interval.
            due = self._next_periodic.setdefault(name, now + min(float(every), 30.0))
            if now < due:
                continue
            self._next_periodic[name] = now + float(every)
            task = current_app.tasks.get(task_name)
            if task is None:
                log.warning("periodic task %s is not registered", task_name)
                continue
            try:
                task.apply()
            except Exception:
                log.exception("periodic task %s failed", task_name)

    def _report(self, states=None) -> None:
        if self.on_change is not None:
            try:
                self.on_change(states)
            except Exception:
                log.warning("status report failed", exc_info=True)
        close_old_connections()
