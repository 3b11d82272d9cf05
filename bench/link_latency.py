#!/usr/bin/env python
"""Benchmark of "Gerar link".

1. Server time of POST /api/v1/consultations/<id>/link/ with services ready (a verified public URL):
   N requests through Django's full middleware stack (token auth, audit row, link row), on SQLite and
   on Postgres; baseline in the same run: GET /healthz (one SELECT 1), the cheapest request we serve.
   Target: p95 < 50 ms — the request path does no network I/O.
2. Cold start: `manage.py runtunnels --provider lan` from spawn to the first verified link (TLS
   certificate generation included on the first run, reused on the second).

Usage: python bench/link_latency.py [--requests 200] [--postgres postgres://postgres@127.0.0.1:5432/postgres]
Only loopback addresses are used (LAN_ADDRESS=127.0.0.1).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

from machine import machine_line  # noqa: E402


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(ms):
    return {"n": len(ms), "p50": pct(ms, 50), "p95": pct(ms, 95), "mean": statistics.fmean(ms), "max": max(ms)}


# --- part 1: in one process per database ---------------------------------------------------------


def worker(n: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    from audit.services import AuditContext
    from consultations.services import consultation_create
    from patients.services import doctor_create, patient_create
    from tunnels.services import public_endpoint_set

    ctx = AuditContext.system("bench")
    doctor = doctor_create(ctx=ctx, username=f"bench{os.getpid()}", password="x-bench-pass-123", clinic_name=f"Bench {os.getpid()}")
    patient = patient_create(ctx=ctx, clinic=doctor.clinic, full_name="Paciente Bench", cpf="52998224725")
    consultation = consultation_create(ctx=ctx, doctor=doctor, patient=patient, scheduled_for=timezone.now() + timedelta(hours=1))
    token = Token.objects.create(user=doctor.user)
    public_endpoint_set(provider="static", public_url="https://bench.example.org", state="verified", instance_id="bench")

    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = f"/api/v1/consultations/{consultation.pk}/link/"
    for _ in range(20):  # warm-up: imports, caches, connection
        assert client.post(url).status_code == 200
        client.get("/healthz")
    link_ms, health_ms = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.post(url)
        link_ms.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200 and resp.json()["status"] == "ready", resp.content
        t0 = time.perf_counter()
        client.get("/healthz")
        health_ms.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"link": summary(link_ms), "healthz": summary(health_ms)}))


def run_worker(database_url: str, n: int, var_dir: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "VAR_DIR": var_dir, "DEBUG": "true", "REDIS_URL": ""}
    out = subprocess.run([sys.executable, __file__, "--worker", "--requests", str(n)], cwd=BASE_DIR, env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- part 2: cold start ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_start(var_dir: str) -> float:
    db = Path(var_dir) / "medcall.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "VAR_DIR": var_dir, "DEBUG": "true", "REDIS_URL": "",
           "LAN_ADDRESS": "127.0.0.1", "LAN_HTTPS_PORT": str(free_port()), "LIVEKIT_URL": ""}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=300)
    # Forget the previous run's verified URL so we time a real start-up.
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM tunnels_publicendpoint")
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "manage.py", "runtunnels", "--provider", "lan", "--port", str(port), "--no-qr"],
                            cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError("runtunnels exited early")
            if time.perf_counter() - t0 > 120:
                raise TimeoutError("no verified URL within 120 s")
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    row = conn.execute("SELECT state FROM tunnels_publicendpoint WHERE id=1").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row and row[0] == "verified":
                return time.perf_counter() - t0
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.requests)

    print(f"machine: {machine_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [("sqlite", run_worker(f"sqlite:///{tmp}/bench.sqlite3", args.requests, tmp))]
        pg_name = f"medcall_bench_{os.getpid()}"
        try:
            import psycopg

            admin = psycopg.connect(args.postgres, autocommit=True)
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        except Exception as exc:  # Postgres not available: say so, keep the SQLite figures
            print(f"postgres: skipped ({type(exc).__name__}: {exc})")
            admin = None
        if admin is not None:
            try:
                base = args.postgres.rsplit("/", 1)[0]
                rows.append(("postgres", run_worker(f"{base}/{pg_name}", args.requests, tmp)))
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                admin.close()
        print(f"\nPOST /api/v1/consultations/<id>/link/ (services ready), {args.requests} requests, server time in ms")
        print(f"{'database':<10} {'request':<10} {'p50':>7} {'p95':>7} {'mean':>7} {'max':>7}")
        for name, r in rows:
            for label in ("link", "healthz"):
                s = r[label]
                print(f"{name:<10} {label:<10} {s['p50']:7.2f} {s['p95']:7.2f} {s['mean']:7.2f} {s['max']:7.2f}")
            verdict = "PASS" if r["link"]["p95"] < 50 else "FAIL"
            ratio = r["link"]["p50"] / r["healthz"]["p50"]
            print(f"{name:<10} link p95 < 50 ms: {verdict}; link p50 = {ratio:.1f}x the /healthz baseline")

        cold_dir = Path(tmp) / "cold"
        cold_dir.mkdir()
        first = cold_start(str(cold_dir))
        second = cold_start(str(cold_dir))
        print("\nCold start, runtunnels --provider lan → first verified public URL (links ready)")
        print(f"  first run (creates the TLS certificate): {first:.2f} s")
        print(f"  second run (certificate reused):         {second:.2f} s")


if __name__ == "__main__":
    main()
