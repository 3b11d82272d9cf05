"""`manage.py runtunnels` as a real subprocess for end-to-end tests.

It serves the *test* database (the caller passes its DATABASE_URL), uses the test-only
ForwarderProvider (a real TCP forwarder on another loopback port) as the tunnel, and can be told to
take the forwarder down and up through a control file — so heal paths run across processes exactly
as they do in production.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from medcall.tests.live_daphne import _die_with_parent

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunTunnelsProcess:
    def __init__(self, *, database_url: str, workdir: Path, interval: float = 1.0, env: dict | None = None):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.port = free_port()
        self.forwarder_port = free_port()
        self.control_file = self.workdir / "forwarder-control"
        self.log_path = self.workdir / "runtunnels.log"
        self.interval = interval
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.forwarder_port}"

    def env(self) -> dict:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "PYTHONUNBUFFERED": "1",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "MEDCALL_FORWARDER_PORT": str(self.forwarder_port),
            "MEDCALL_FORWARDER_CONTROL": str(self.control_file),
            "LIVEKIT_URL": "",
            "LIVEKIT_AUTOSTART": "false",
            **self.extra_env,
        }

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "manage.py", "runtunnels", "--port", str(self.port),
                "--provider", "tunnels.tests.forwarder.ForwarderProvider", "--interval", str(self.interval), "--no-qr",
            ],
            cwd=BASE_DIR, env=self.env(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )

    def forwarder(self, state: str) -> None:
        """"down" stops the forwarder's listener (the public URL refuses); "up" restores it."""
        self.control_file.write_text(state, encoding="utf-8")

    def status(self) -> dict:
        out = subprocess.run(
            [sys.executable, "manage.py", "servicestatus", "--json"],
            cwd=BASE_DIR, env=self.env(), capture_output=True, text=True, timeout=60,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return json.loads(out.stdout)

    def wait_for(self, predicate, *, timeout: float = 60.0, what: str = "condition") -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"runtunnels exited with {self.process.returncode}:\n{self.log_tail()}")
            last = self.status()
            if predicate(last):
                return last
            time.sleep(0.3)
        raise TimeoutError(f"{what} not reached within {timeout:.0f}s; last status {last}\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        return self.process.returncode

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def service(status: dict, name: str) -> dict:
    return next(s for s in status["services"] if s["name"] == name)
