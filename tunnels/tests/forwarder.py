"""ForwarderProvider: a test-only tunnel provider that is a real TCP forwarder on loopback.

It listens on another free 127.0.0.1 port and pipes bytes both ways to local_host:local_port, like a
tunnel's agent does, so the whole path (open → verify → fetch a link through the "public" URL) runs
for real. Used by the runtunnels end-to-end test with
TUNNEL_PROVIDER=tunnels.tests.forwarder.ForwarderProvider.

Heal tests:
- in-process: `stop()` closes the listener and live connections (is_alive → False, the public URL
  refuses); `start()` listens again on the same port.
- across processes (runtunnels runs as a child): set MEDCALL_FORWARDER_CONTROL to a file path. While
  that file contains "down", the forwarder stops listening and open() fails; when it is removed or
  says "up", it listens again. MEDCALL_FORWARDER_PORT fixes the listening port.
"""
from __future__ import annotations

import os
import socket
import threading
import weakref
from pathlib import Path

from tunnels.providers.base import TunnelError, TunnelHandle, TunnelProvider

CHUNK = 64 * 1024


class ForwarderProvider(TunnelProvider):
    name = "forwarder"
    verify_ca = True
    instances: weakref.WeakSet = weakref.WeakSet()  # in-process access for tests

    def __init__(self, *, port: int | None = None, control_file: str | None = None):
        env_port = os.environ.get("MEDCALL_FORWARDER_PORT")
        self.port = port if port is not None else (int(env_port) if env_port else 0)
        control = control_file or os.environ.get("MEDCALL_FORWARDER_CONTROL") or ""
        self.control_file = Path(control) if control else None
        self.local_host: str | None = None
        self.local_port: int | None = None
        self.connections_forwarded = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._watcher_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        ForwarderProvider.instances.add(self)

    # --- control ---------------------------------------------------------------------------------

    def _control_says_down(self) -> bool:
        if self.control_file is None:
            return False
        try:
            return self.control_file.read_text(encoding="utf-8").strip().lower() == "down"
        except OSError:
            return False

    def _watch_control(self) -> None:
        while not self._watcher_stop.wait(0.1):
            down = self._control_says_down()
            if down and self._listener is not None:
                self.stop()
            elif not down and self._listener is None and self.local_port is not None:
                try:
                    self.start()
                except OSError:
                    pass

    # --- listener --------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen (again) on self.port — the same port after a stop(), so the public URL stays valid."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True, name="forwarder-accept").start()

    def stop(self) -> None:
        """Stop listening and cut live connections: the "public" URL now refuses connections."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        for sock in [listener, *sockets]:
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # listener closed by stop()
            try:
                upstream = socket.create_connection((self.local_host, self.local_port), timeout=5)
            except OSError:
                client.close()  # like an agent whose upstream is down
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                self.connections_forwarded += 1
            # Each connection is closed once both directions have finished (not after the first):
            # a client that half-closes after its request must still receive the response.
            remaining = [2]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, target, (client, upstream), remaining), daemon=True,
                    name="forwarder-pipe",
                ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, pair: tuple, remaining: list) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        try:
            target.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:
            pass
        with self._lock:
            remaining[0] -= 1
            done = remaining[0] == 0
            if done:
                self._sockets.difference_update(pair)
        if done:
            for sock in pair:
                try:
                    sock.close()
                except OSError:
                    pass

    # --- provider interface ----------------------------------------------------------------------

    def available(self) -> tuple[bool, str]:
        return True, ""

    def open(self, *, local_host: str, local_port: int, timeout: float = 30) -> TunnelHandle:
        self.close()
        self.local_host, self.local_port = local_host, local_port
        if self._control_says_down():
            raise TunnelError(
                f"Test forwarder is stopped (control file {self.control_file} says down); port {local_port} is not forwarded.",
                code="unreachable",
                port=local_port,
            )
        self.start()
        if self.control_file is not None:
            self._watcher_stop.clear()
            self._watcher = threading.Thread(target=self._watch_control, daemon=True, name="forwarder-control")
            self._watcher.start()
        return TunnelHandle(
            provider=self.name, public_url=f"http://127.0.0.1:{self.port}", local_port=local_port,
            details={"forwarder_port": self.port},
        )

    def close(self) -> None:
        self._watcher_stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=1)
        self.stop()

    def is_alive(self) -> bool:
        return self._listener is not None

    def media_note(self) -> str:
        return "Test forwarder on loopback: media stays on this machine."
