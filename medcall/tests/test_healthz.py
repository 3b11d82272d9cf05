"""`GET /healthz`: shape, stable instance id, no auth, and a real database outage → 503.

The outage test runs a real Daphne server against a throwaway Postgres cluster of its own, then
stops that cluster: no mocks, and the shared Postgres is never touched.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from medcall import health

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_until(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


# In-process -----------------------------------------------------------------------------------


def test_it_reports_ok_with_the_documented_shape(client, db):
    res = client.get("/healthz")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok"
    assert body["instance"] == health.INSTANCE_ID and len(body["instance"]) >= 8
    assert body["checks"]["database"] == "ok"
    assert "no-cache" in res["Cache-Control"] or "max-age=0" in res["Cache-Control"]


def test_it_keeps_the_instance_id_across_calls(client, db):
    ids = {client.get("/healthz").json()["instance"] for _ in range(3)}
    assert ids == {health.INSTANCE_ID}


def test_it_needs_no_login(client, db):
    res = client.get("/healthz")
    assert res.status_code == 200
    assert not res.wsgi_request.user.is_authenticated


def test_it_refuses_post(client, db):
    assert client.post("/healthz").status_code == 405


def test_it_checks_redis_when_configured(client, db, settings):
    settings.REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2"
    body = client.get("/healthz").json()
    assert body["checks"] == {"database": "ok", "redis": "ok"}


def test_it_answers_503_naming_redis_when_redis_is_down(client, db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    res = client.get("/healthz")
    assert res.status_code == 503
    body = res.json()
    assert body["checks"]["redis"] == "down" and body["failing"] == ["redis"]
    assert body["instance"] == health.INSTANCE_ID


def test_it_has_no_redis_check_without_redis(client, db, settings):
    settings.REDIS_URL = ""
    assert set(client.get("/healthz").json()["checks"]) == {"database"}


# Real server, real outage ---------------------------------------------------------------------


@pytest.fixture
def throwaway_postgres():
    """A Postgres cluster of our own on a free port (initdb + pg_ctl as the postgres user)."""
    assert (PG_BIN / "initdb").exists(), "Postgres 15 server binaries are needed (apt-get install postgresql-15)"
    root = Path(tempfile.mkdtemp(prefix="medcall-pg-"))
    shutil.chown(root, "postgres")
    data, port = root / "data", free_port()

    def pg(*args):
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    pg(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"

    class Cluster:
        url = f"postgres://postgres@127.0.0.1:{port}/postgres"

        def start(self):
            pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "pg.log"), "-w", "-o", opts, "start")

        def stop(self):
            pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

    cluster = Cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def daphne_server(tmp_path):
    """Start Daphne serving medcall.asgi on a free loopback port with the given DATABASE_URL."""
    procs, logs = [], []

    def start(database_url: str) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "TEST_DB_SUFFIX")}
        env.update(
            DATABASE_URL=database_url, SECRET_KEY="healthz-test-only", DEBUG="true", VAR_DIR=str(tmp_path),
            DJANGO_SETTINGS_MODULE="medcall.settings",
        )
        log = open(tmp_path / "daphne.log", "wb")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "medcall.asgi:application"],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"

        def answering():
            assert proc.poll() is None, (tmp_path / "daphne.log").read_text()
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True

        wait_until(answering, what="daphne to listen")
        return base

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for log in logs:
        log.close()


@pytest.mark.slow
def test_it_answers_503_naming_the_database_when_it_goes_down(throwaway_postgres, daphne_server):
    base = daphne_server(throwaway_postgres.url)
    status, body = get_json(f"{base}/healthz")
    assert status == 200 and body["checks"]["database"] == "ok"
    instance = body["instance"]

    throwaway_postgres.stop()
    status, body = get_json(f"{base}/healthz")
    assert status == 503
    assert body["status"] == "error"
    assert body["checks"]["database"] == "down" and body["failing"] == ["database"]
    assert body["instance"] == instance  # same process, same id

    throwaway_postgres.start()
    status, body = get_json(f"{base}/healthz")  # recovers without a restart
    assert status == 200 and body["instance"] == instance


@pytest.mark.slow
def test_it_answers_503_when_the_database_was_never_reachable(daphne_server):
    base = daphne_server(f"postgres://postgres@127.0.0.1:{free_port()}/medcall")  # closed loopback port
    status, body = get_json(f"{base}/healthz")
    assert status == 503
    assert body["failing"] == ["database"]
    assert "Traceback" not in json.dumps(body)
