"""A real Daphne server subprocess for tests (used by the `live_daphne` fixture in conftest.py).

It runs the same ASGI application production runs (`daphne medcall.asgi:application`), pointed at
the *test* database, so a browser or WebSocket client talks to a real server over loopback.

Port: the parent binds and listens on 127.0.0.1:0 and hands the socket to Daphne (`--fd`), so
there is no window in which another process can take the port between probing and binding.
Lifetime: own process group, SIGTERM then SIGKILL of the whole group, and on Linux the kernel
sends SIGTERM to the server if the test process dies first (PR_SET_PDEATHSIG), so no server
outlives its test. Output goes to a log file under var/; it is quoted when start-up fails.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
LOG_DIR = BASE_DIR / "var" / "live_daphne"

# Loopback requests must never go through a proxy configured in the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LiveDaphne:
    """One Daphne process serving medcall.asgi on a free loopback port."""

    def __init__(self, *, database_url: str, log_path: Path, env: dict | None = None, start_timeout: float = 30.0):
        self.database_url = database_url
        self.log_path = Path(log_path)
        self.start_timeout = start_timeout
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "medcall.settings"),
            "DATABASE_URL": self.database_url,
            "PYTHONUNBUFFERED": "1",
            # Plain HTTP on loopback: secure-only cookies would never come back from the browser.
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
        }
        if env.get("ALLOWED_HOSTS"):
            env["ALLOWED_HOSTS"] = env["ALLOWED_HOSTS"] + ",127.0.0.1,localhost"
        env.update(self.extra_env)
        return env

    def start(self) -> str:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), "medcall.asgi:application"],
                    cwd=BASE_DIR,
                    env=self._env(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=[listener.fileno()],
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
        finally:
            listener.close()  # the child holds its own copy of the listening socket
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Daphne exited with code {self.process.returncode} before answering /healthz.\n{self.log_tail()}"
                )
            try:
                with _opener.open(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise RuntimeError(
            f"Daphne did not answer GET /healthz with 200 within {self.start_timeout:.0f} s "
            f"(last: {last_error}).\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self.log_path} ---\n{tail}"

    def stop(self) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                proc.wait(timeout=10)
        self.process = None

    def _signal_group(self, sig) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
