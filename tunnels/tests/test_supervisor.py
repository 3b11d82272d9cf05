"""The supervisor loop: survives a failing check, runs beat's other entries in embedded mode."""
import threading

from tunnels.orchestrator import Orchestrator
from tunnels.supervisor import Supervisor


class _Boom(Exception):
    pass


def test_it_keeps_supervising_after_a_failing_check(transactional_db, settings):
    settings.CELERY_BEAT_SCHEDULE = {}
    calls = []
    orch = Orchestrator(web_port=1)
    orch.bring_up = lambda: False  # nothing listens on port 1: no start-up to wait for

    def check(heal=True):
        calls.append(heal)
        if len(calls) == 1:
            raise _Boom("first check fails")
        return {"tunnel": "down"}

    orch.check = check
    sup = Supervisor(orch, interval=0.05)
    sup.start()
    try:
        for _ in range(100):
            if len(calls) >= 3:
                break
            threading.Event().wait(0.05)
    finally:
        sup.stop()
    assert len(calls) >= 3  # the loop went on after the exception
    assert Supervisor.current() is None


def test_it_runs_other_beat_entries_in_process(transactional_db, settings):
    from celery.signals import task_postrun

    settings.CELERY_BEAT_SCHEDULE = {
        "check-services": {"task": "tunnels.check_services", "schedule": 15.0},
        "ping": {"task": "medcall.tasks.ping", "schedule": 60.0},
        "weekly": {"task": "medcall.tasks.ping", "schedule": object()},  # crontab-like: left to real beat
    }
    ran = []

    def record(sender=None, retval=None, **kwargs):
        ran.append((sender.name, retval))

    task_postrun.connect(record)
    try:
        sup = Supervisor(Orchestrator(web_port=1), interval=1)
        sup._run_periodic_tasks()  # first sight: scheduled a little later, not run during start-up
        assert ran == []
        sup._next_periodic["ping"] = 0  # now due
        sup._run_periodic_tasks()
        assert ran == [("medcall.tasks.ping", "pong")]
        sup._run_periodic_tasks()  # not due again for 60 s
        assert len(ran) == 1
    finally:
        task_postrun.disconnect(record)
    assert "check-services" not in sup._next_periodic and "weekly" not in sup._next_periodic
