"""Auto-start and supervise a local `livekit-server` (LIVEKIT_AUTOSTART).

`LiveKitServerProcess` finds the binary (LIVEKIT_BIN, else `livekit-server` on PATH), starts it
without a shell (so it behaves the same on Linux, macOS and Windows), waits until `probe_livekit`
says it is ready — with backoff, up to LIVEKIT_START_TIMEOUT — and reports every failure as a
`ProbeResult` whose message says what to do. The supervisor (runtunnels / beat) calls `supervise()`
on each tick: it restarts a dead server, waiting longer after each consecutive failure.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from .probes import DEGRADED, DOWN, STARTING, UP, ProbeResult, probe_livekit

log = logging.getLogger(__name__)

BINARY_NAME = "livekit-server"
INSTALL_HINT = "https://docs.livekit.io/home/self-hosting/local/"
STDERR_TAIL_LINES = 8
RESTART_BACKOFF_MAX = 60.0


def livekit_binary_find(configured: str | None = None) -> str | None:
    """Absolute path of the livekit-server executable, or None.

    LIVEKIT_BIN may be a path or a bare name looked up on PATH; without it, `livekit-server` on PATH
    (shutil.which also finds `livekit-server.exe` on Windows)."""
    configured = settings.LIVEKIT_BIN if configured is None else configured
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
        return shutil.which(configured)
    return shutil.which(BINARY_NAME)


class LiveKitServerProcess:
    """One supervised livekit-server child process. Not thread-safe: one supervisor owns it."""

    def __init__(
        self,
        *,
        binary: str | None = None,
        port: int | None = None,
        bind: str | None = None,
        config: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        start_timeout: float | None = None,
        log_path: str | os.PathLike | None = None,
        restart_backoff: float = 1.0,
    ):
        self.binary_setting = settings.LIVEKIT_BIN if binary is None else binary
        self.port = int(port or settings.LIVEKIT_PORT)
        self.bind = bind or settings.LIVEKIT_BIND
        self.config = settings.LIVEKIT_CONFIG if config is None else config
        self.api_key = settings.LIVEKIT_API_KEY if api_key is None else api_key
        self.api_secret = settings.LIVEKIT_API_SECRET if api_secret is None else api_secret
        self.start_timeout = float(settings.LIVEKIT_START_TIMEOUT if start_timeout is None else start_timeout)
        self.log_path = Path(log_path) if log_path else Path(settings.VAR_DIR) / "livekit-server.log"
        self.restart_backoff = restart_backoff
        self.failures = 0  # consecutive failed starts / crashes; reset when the server is ready
        self.next_start_at = 0.0  # time.monotonic() before which supervise() does not restart
        self.last_result: ProbeResult | None = None
        self._process: subprocess.Popen | None = None
        self._log_file = None

    # -- facts ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        # The server binds `bind` (0.0.0.0 by default); this process reaches it over loopback.
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def poll_alive(self) -> bool:
        """Cheap liveness (no network): the child process exists and has not exited."""
        return self.is_running()

    def command(self, binary: str) -> list[str]:
        """argv for the child. A config file, when given, holds the keys; otherwise --dev mode."""
        argv = [binary]
        if self.config:
            argv += ["--config", str(self.config)]
        else:
            argv += ["--dev"]
        argv += ["--bind", self.bind, "--port", str(self.port)]
        return argv

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # livekit-server reads LIVEKIT_CONFIG as a YAML config *body*; ours is a file path (passed as
        # --config), so it must not leak into the child.
        env.pop("LIVEKIT_CONFIG", None)
        env.pop("LIVEKIT_KEYS", None)
        if not self.config and self.api_key and self.api_secret:
            # Keys go through the environment, not argv, so they never show up in `ps`.
            env["LIVEKIT_KEYS"] = f"{self.api_key}: {self.api_secret}"
        return env

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> ProbeResult:
        """Start the server (if not running) and wait until it is ready or the timeout passes."""
        with translation.override(settings.LANGUAGE_CODE):
            result = self._start()
        self.last_result = result
        if result.state in (UP, DEGRADED):
            self.failures = 0
        else:
            # A start that did not reach ready leaves nothing behind: a child still "starting" after
            # the timeout is stopped too, so the next attempt begins from a clean state.
            self.stop()
            self._note_failure()
        return result

    def _start(self) -> ProbeResult:
        if self.is_running():
            return self._wait_ready()
        binary = livekit_binary_find(self.binary_setting)
        if binary is None:
            return ProbeResult(
                DOWN,
                _(
                    "LIVEKIT_AUTOSTART is on, but no livekit-server program was found (LIVEKIT_BIN=%(bin)s, "
                    "then PATH). Install LiveKit server (%(url)s) and set LIVEKIT_BIN to its path, or turn "
                    "off LIVEKIT_AUTOSTART to use the built-in peer-to-peer mode."
                )
                % {"bin": self.binary_setting or _("(not set)"), "url": INSTALL_HINT},
                {"port": self.port},
            )
        if self.config and not Path(self.config).is_file():
            return ProbeResult(
                DOWN,
                _("LIVEKIT_CONFIG points to %(path)s, which does not exist. Fix the path or leave it empty.")
                % {"path": self.config},
                {"port": self.port},
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the child's lifetime
        popen_kwargs: dict = {}
        if sys.platform == "win32":
            popen_kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            # Own session: a Ctrl+C in the terminal reaches us, and we stop the child in order.
            popen_kwargs["start_new_session"] = True
        try:
            self._process = subprocess.Popen(
                self.command(binary),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=self._child_env(),
                **popen_kwargs,
            )
        except OSError as exc:
            self._close_log()
            return ProbeResult(
                DOWN,
                _("livekit-server (%(bin)s) could not be started: %(error)s. Check the file and its permissions.")
                % {"bin": binary, "error": exc.strerror or type(exc).__name__},
                {"port": self.port},
            )
        log.info("started livekit-server pid=%s port=%s", self._process.pid, self.port)
        return self._wait_ready()

    def _wait_ready(self) -> ProbeResult:
        deadline = time.monotonic() + self.start_timeout
        delay = 0.1
        result = ProbeResult(STARTING, "", {})
        while True:
            exited = self._exited_result()
            if exited is not None:
                return exited
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            result = probe_livekit(
                url=self.url, api_key=self.api_key, api_secret=self.api_secret, timeout=min(2.0, max(remaining, 0.2))
            )
            # degraded (e.g. wrong keys) means the server is up: waiting longer will not fix it.
            if result.state in (UP, DEGRADED):
                return ProbeResult(result.state, result.message, {**result.details, "pid": self.pid})
            time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 1.0)
        return ProbeResult(
            DOWN,
            _(
                "livekit-server started but was not ready on port %(port)s after %(seconds)s s (last check: "
                "%(last)s). See %(log)s; raise LIVEKIT_START_TIMEOUT if this machine is slow."
            )
            % {
                "port": self.port,
                "seconds": f"{self.start_timeout:g}",
                "last": result.state,
                "log": self.log_path,
            },
            {"port": self.port, "pid": self.pid, "last_state": result.state},
        )

    def _exited_result(self, *, starting: bool = True) -> ProbeResult | None:
        if self._process is None:
            return ProbeResult(DOWN, _("livekit-server is not running."), {"port": self.port})
        code = self._process.poll()
        if code is None:
            return None
        values = {"code": code, "port": self.port, "tail": self.stderr_tail() or _("(no output)")}
        if starting:
            message = _(
                "livekit-server exited with code %(code)s before it was ready on port %(port)s. Last lines "
                "of its output:\n%(tail)s\nFix the cause above (often: the port is already in use) and try again."
            ) % values
        else:
            message = _(
                "livekit-server (port %(port)s) stopped unexpectedly with code %(code)s; it will be restarted. "
                "Last lines of its output:\n%(tail)s"
            ) % values
        return ProbeResult(DOWN, message, {"port": self.port, "exit_code": code})

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        """Last lines of the child's output, with the API secret masked."""
        if self._log_file is not None:
            self._log_file.flush()
        try:
            with open(self.log_path, "rb") as fh:
                text = fh.read()[-16384:].decode("utf-8", "replace")
        except OSError:
            return ""
        tail = list(deque(text.splitlines(), maxlen=lines))
        masked = []
        for line in tail:
            if self.api_secret:
                line = line.replace(self.api_secret, "***")
            if "api secret" in line.lower():  # `--dev` logs its placeholder secret
                line = line.split(":", 1)[0] + ": ***" if ":" in line else "***"
            masked.append(line)
        return "\n".join(masked)

    def poll(self, *, timeout: float = 2.0) -> ProbeResult:
        """Current health: a dead process is `down` with its exit code; a live one is probed."""
        with translation.override(settings.LANGUAGE_CODE):
            if not self.is_running():
                result = self._exited_result(starting=False)
            else:
                probe = probe_livekit(url=self.url, api_key=self.api_key, api_secret=self.api_secret, timeout=timeout)
                result = ProbeResult(probe.state, probe.message, {**probe.details, "pid": self.pid})
        self.last_result = result
        return result

    def stop(self, *, timeout: float = 5.0) -> None:
        """Terminate the child (then kill it if it does not exit in time) and close its log."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
            log.info("stopped livekit-server pid=%s", process.pid)
        self._close_log()

    def restart(self) -> ProbeResult:
        """Stop and start again now (the caller decided; supervise() applies the backoff)."""
        self.stop()
        return self.start()

    def supervise(self) -> ProbeResult:
        """One supervisor tick: probe a running server; restart a dead one once its backoff passed."""
        if self.is_running():
            return self.poll()
        if time.monotonic() < self.next_start_at:
            with translation.override(settings.LANGUAGE_CODE):
                wait = max(self.next_start_at - time.monotonic(), 0)
                previous = self.last_result.message if self.last_result else ""
                result = ProbeResult(
                    DOWN,
                    _("livekit-server is down; next restart attempt in %(seconds)s s. %(previous)s")
                    % {"seconds": f"{wait:.0f}", "previous": previous},
                    {"port": self.port, "failures": self.failures},
                )
            return result
        if self._process is not None:
            # It was running and died: count the crash before trying again.
            crashed = self.poll()
            self._note_failure()
            self.stop()
            if time.monotonic() < self.next_start_at:
                return crashed
        return self.start()

    def _note_failure(self) -> None:
        self.failures += 1
        delay = min(self.restart_backoff * (2 ** (self.failures - 1)), RESTART_BACKOFF_MAX)
        self.next_start_at = time.monotonic() + delay

    def _close_log(self) -> None:
        if self._log_file is not None:
            try:
                self._log_file.close()
            finally:
                self._log_file = None

    def __enter__(self) -> LiveKitServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
