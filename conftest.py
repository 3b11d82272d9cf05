"""Shared fixtures: alice (doctor, owner of the data), bob (colleague in alice's clinic),
charlie (doctor in another clinic: the outsider). Patients and consultations belong to alice's clinic.
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.services import AuditContext


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Creating users dominated the suite's run time (~1.3 s each with production PBKDF2 iterations).
    settings.PASSWORD_HASHERS = ["medcall.tests.fast_hasher.FastPBKDF2PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    # channels caches one layer instance per process; channels_redis binds its receive lock to the
    # event loop that first used it. Each test (and its loop) gets its own layer, so a consumer left
    # mid-receive by one test can never hold a lock that the next test's loop then waits on.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _default_language():
    # A test that activates English must not leak it into the next one (pt-BR is the default).
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def ctx_system():
    return AuditContext.system("tests")


@pytest.fixture
def clinic(db):
    from patients.models import Clinic

    return Clinic.objects.create(name="Clínica Boa Saúde", address="Rua das Flores, 10 - São Paulo/SP")


@pytest.fixture
def other_clinic(db):
    from patients.models import Clinic

    return Clinic.objects.create(name="Clínica Vizinha")


def _make_doctor(username, clinic, crm="", uf="", first="", last=""):
    from django.contrib.auth import get_user_model

    from patients.models import Doctor

    user = get_user_model().objects.create_user(username=username, password="s3nha-forte-123", first_name=first, last_name=last)
    return Doctor.objects.create(user=user, clinic=clinic, crm=crm, crm_uf=uf, specialty="Clínica médica")


@pytest.fixture
def alice(clinic):
    return _make_doctor("alice", clinic, "123456", "SP", "Alice", "Souza")


@pytest.fixture
def bob(clinic):
    return _make_doctor("bob", clinic, "654321", "SP", "Bob", "Lima")


@pytest.fixture
def charlie(other_clinic):
    return _make_doctor("charlie", other_clinic, "111222", "RJ", "Charlie", "Reis")


@pytest.fixture
def ctx_alice(alice):
    return AuditContext(user=alice.user, ip="127.0.0.1", user_agent="pytest")


@pytest.fixture
def patient(clinic, ctx_system):
    from patients.services import patient_create

    return patient_create(
        ctx=ctx_system,
        clinic=clinic,
        full_name="Maria da Silva",
        cpf="529.982.247-25",
        phone="(11) 98765-4321",
        email="maria@example.com",
    )


@pytest.fixture
def outsider_patient(other_clinic, ctx_system):
    from patients.services import patient_create

    return patient_create(ctx=ctx_system, clinic=other_clinic, full_name="José Externo", cpf="11144477735")


@pytest.fixture
def consultation(alice, patient, ctx_system):
    from consultations.services import consultation_create

    return consultation_create(
        ctx=ctx_system,
        doctor=alice,
        patient=patient,
        scheduled_for=timezone.now() + timedelta(hours=1),
        chief_complaint="Dor de cabeça",
    )


@pytest.fixture
def outsider_consultation(charlie, outsider_patient, ctx_system):
    from consultations.services import consultation_create

    return consultation_create(
        ctx=ctx_system, doctor=charlie, patient=outsider_patient, scheduled_for=timezone.now() + timedelta(hours=2)
    )


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice.user)
    return client


@pytest.fixture
def charlie_client(client, charlie):
    client.force_login(charlie.user)
    return client


@pytest.fixture
def celery_worker_queues():
    """Queues the `celery_worker_process` worker consumes; override in a test module to add e.g. "stt"."""
    from django.conf import settings

    routed = {route.get("queue") for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values()}
    return ["celery", *sorted(q for q in routed if q and q != "celery")]


@pytest.fixture
def celery_worker_env():
    """Extra environment for the `celery_worker_process` worker; override in a test module if needed."""
    return {}


@pytest.fixture
def celery_worker_process(transactional_db, celery_worker_queues, celery_worker_env, tmp_path):
    """A real `celery -A medcall worker` subprocess on REDIS_URL and the test database, eager mode off.

    Yields a CeleryWorkerProcess (medcall/tests/celery_worker_process.py): `.result(async_result)` waits
    for a task's value, `.hostname` is its node name, `.log_path` its log. It brings `transactional_db`
    because the worker only sees committed rows. Skipped without REDIS_URL (SQLite-only runs).
    """
    from django.conf import settings
    from django.db import connection

    if not settings.REDIS_URL:
        pytest.skip("needs a real broker: set REDIS_URL (e.g. redis://127.0.0.1:6379/0), as .ci/run does")

    from medcall.celery import app as celery_app
    from medcall.tests.celery_worker_process import CeleryWorkerProcess, database_url_for

    worker = CeleryWorkerProcess(
        database_url=database_url_for(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        queues=celery_worker_queues,
        log_path=tmp_path / "celery-worker.log",
        env=celery_worker_env,
    )
    # Tasks sent from the test go to the broker even when this process was started in eager mode.
    previous_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
        celery_app.conf.task_always_eager = previous_eager


@pytest.fixture
def live_daphne(transactional_db, request):
    """A real Daphne server (subprocess) on a free 127.0.0.1 port, serving the *test* database.

    Yields its base URL, e.g. "http://127.0.0.1:41234", once GET /healthz answers 200, and stops it
    (whole process group) after the test. It brings `transactional_db`: the server is another
    process and only sees committed rows. Its output is kept in var/live_daphne/<test>.log and
    quoted in the error when it fails to start. See medcall/tests/live_daphne.py.
    """
    import re

    from django.db import connection

    from medcall.tests.celery_worker_process import database_url_for
    from medcall.tests.live_daphne import LOG_DIR, LiveDaphne

    log_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120] + ".log"
    server = LiveDaphne(database_url=database_url_for(connection.settings_dict), log_path=LOG_DIR / log_name)
    try:
        yield server.start()
    finally:
        server.stop()
