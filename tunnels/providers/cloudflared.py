"""cloudflared quick tunnel: `cloudflared tunnel --url http://127.0.0.1:<port>` as a child process.

No account needed; the random https://<words>.trycloudflare.com URL is read from cloudflared's own
metrics server (GET /quicktunnel → {"hostname": "..."}) and readiness from GET /ready (200 with
{"status": 200, "readyConnections": N} once connected to Cloudflare's edge; 503 before).
Cloudflare rate-limits quick tunnels per network; that answer (429) becomes a clear message.
"""
from __future__ import annotations

import collections
import logging
import os
import shutil
import socket
import subprocess
import threading
import time

from django.conf import settings
from django.utils.translation import gettext as _

from tunnels import failures
from tunnels.providers.base import TunnelHandle, TunnelProvider
from tunnels.providers.localhttp import http_get

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.2


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CloudflaredProvider(TunnelProvider):
    name = "cloudflared"

    def __init__(self, *, binary: str | None = None):
        configured = settings.CLOUDFLARED_BIN if binary is None else binary
        self.configured_binary = configured
        self.binary = self._resolve(configured)
        self._process: subprocess.Popen | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=200)
        self._reader: threading.Thread | None = None
        self.metrics_url: str | None = None

    @staticmethod
    def _resolve(configured: str) -> str | None:
        if configured:
            if os.path.isfile(configured) and os.access(configured, os.X_OK):
                return configured
            return shutil.which(configured)
        return shutil.which("cloudflared")

    def available(self) -> tuple[bool, str]:
        if self.binary:
            return True, ""
        return False, failures.cloudflared_missing_reason(binary=self.configured_binary)

    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        self.close()
        if not self.binary:
            raise failures.cloudflared_missing(binary=self.configured_binary)
        metrics_port = free_loopback_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}"
        command = [
            self.binary,
            "tunnel",
            "--no-autoupdate",
            "--metrics",
            f"127.0.0.1:{metrics_port}",
            "--url",
            f"http://{local_host}:{local_port}",
        ]
        self._output.clear()
        # stdout+stderr merged and drained by a thread: cloudflared logs continuously and a full pipe
        # would block it. No shell: the same call works on Linux, macOS and Windows.
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._drain, args=(self._process,), daemon=True, name="cloudflared-log")
        self._reader.start()

        deadline = time.monotonic() + timeout
        hostname = ""
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._reader.join(timeout=2)
                output = "\n".join(self._output)
                returncode = self._process.returncode
                self.close()
                raise failures.cloudflared_failure(output, port=local_port, returncode=returncode)
            if not hostname:
                hostname = self._quicktunnel_hostname()
            if hostname and self._ready_connections() > 0:
                public_url = "https://" + hostname.strip().removeprefix("https://").rstrip("/")
                return TunnelHandle(
                    provider=self.name,
                    public_url=public_url,
                    local_port=local_port,
                    details={"metrics": self.metrics_url, "pid": self._process.pid},
                )
            time.sleep(POLL_INTERVAL)
        output = "\n".join(self._output)
        self.close()
        raise failures.cloudflared_timeout(port=local_port, timeout=timeout, output=output)

    def _drain(self, process: subprocess.Popen) -> None:
        try:
            for line in process.stdout:
                self._output.append(line.rstrip())
        except (OSError, ValueError):
            pass

    def _quicktunnel_hostname(self) -> str:
        try:
            reply = http_get(f"{self.metrics_url}/quicktunnel", timeout=1)
            return (reply.json().get("hostname") or "") if reply.status == 200 else ""
        except (OSError, ValueError, AttributeError):
            return ""

    def _ready_connections(self) -> int:
        try:
            reply = http_get(f"{self.metrics_url}/ready", timeout=1)
            if reply.status != 200:
                return 0
            return int(reply.json().get("readyConnections") or 0)
        except (OSError, ValueError, AttributeError, TypeError):
            return 0

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        except Exception as exc:
            logger.warning("stopping cloudflared (pid %s) failed: %s", process.pid, exc)
        finally:
            reader, self._reader = self._reader, None
            if reader is not None:
                reader.join(timeout=2)  # EOF follows the exit; closing under a blocked reader could hang
            if process.stdout and (reader is None or not reader.is_alive()):
                try:
                    process.stdout.close()
                except OSError:
                    pass

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and self._ready_connections() > 0

    def media_note(self) -> str:
        return _(
            "The Cloudflare quick tunnel carries the page, signalling and transcription over HTTPS, but not the "
            "video itself (UDP): patients on another network connect directly when their network allows it and "
            "need a TURN server (or LiveKit Cloud) otherwise."
        )
