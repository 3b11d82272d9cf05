"""LiveKitHTTPDouble: a loopback HTTP server answering as livekit-server's HTTP port does.

What it reproduces (read from livekit/livekit pkg/service/server.go, auth.go, roomservice.go and the
Twirp runtime; not guessed):

- `GET /` is the health check: 200 with body `OK` when the node is ready, 406 with
  `Not Ready\\nNode Updated At ...` while it is starting.
- `POST /twirp/livekit.RoomService/ListRooms` (Twirp; `application/protobuf` or `application/json`):
  * the auth middleware runs first: an Authorization header that does not start with `Bearer `, a
    token that does not parse, an unknown API key (the JWT `iss`) or a bad signature/expired token
    → HTTP 401 with an EMPTY body (LiveKit's handleError only writes the status);
  * no token, or a valid token without the `video.roomList` grant → the handler's
    `twirpAuthError(ErrPermissionDenied)`: HTTP 401, JSON `{"code":"unauthenticated","msg":"permissions denied"}`;
  * otherwise 200 with an empty ListRoomsResponse (`{"rooms": []}` in JSON, empty protobuf bytes).
- Other Twirp paths → 404 `bad_route`; non-POST → 404 `bad_route` (Twirp's own behaviour).

Modes: "ok", "starting" (406), "slow" (sleeps `slow_seconds` before answering — past a probe's
timeout). "refused" needs no server: use a port with nothing listening (`free_port()`).
`starting_for=N` answers 406 for N seconds after start, then 200 — like a node coming up.

The module has no Django imports: `serve_cli()` lets a stand-in `livekit-server` executable, written
by a test into a temp dir, serve this double as a real child process.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

LIST_ROOMS_PATH = "/twirp/livekit.RoomService/ListRooms"
DEV_KEYS = {"devkey": "secret"}  # livekit-server --dev placeholder keys
# go-jose's default leeway, used by LiveKit's token verifier.
JWT_LEEWAY_SECONDS = 60


def free_port() -> int:
    """A loopback TCP port with nothing listening on it (for "refused" and for child servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class LiveKitHTTPDouble:
    """Usage: `with LiveKitHTTPDouble(mode="ok", api_key="k", api_secret="s") as lk: lk.url`."""

    def __init__(
        self,
        *,
        mode: str = "ok",
        api_key: str = "devkey",
        api_secret: str = "secret",
        keys: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 5.0,
        starting_for: float | None = None,
    ):
        if mode not in ("ok", "starting", "slow"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.keys = dict(keys) if keys is not None else {api_key: api_secret}
        self.host = host
        self.slow_seconds = slow_seconds
        self.starting_for = starting_for
        self.requests: list[dict] = []
        self._stopping = threading.Event()
        self._started_at = 0.0
        self._server = _Server((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LiveKitHTTPDouble:
        self._started_at = time.monotonic()
        self._thread = threading.Thread(target=self._server.serve_forever, name="LiveKitHTTPDouble", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes "slow" handlers so shutdown does not wait for them
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LiveKitHTTPDouble:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._started_at = time.monotonic()
        self._server.serve_forever()

    # -- behaviour ------------------------------------------------------------------------------------

    def _current_mode(self) -> str:
        if self.starting_for is not None:
            elapsed = time.monotonic() - self._started_at
            return "starting" if elapsed < self.starting_for else "ok"
        return self.mode

    def _authenticate(self, header: str | None) -> tuple[int | None, dict | None]:
        """LiveKit's APIKeyAuthMiddleware: (401, None) to reject with an empty body, else (None, claims)."""
        if not header:
            return None, None  # no token: the handler decides (permission denied)
        if not header.startswith("Bearer "):
            return 401, None
        token = header[len("Bearer ") :]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return 401, None
        secret = self.keys.get(unverified.get("iss", ""))
        if not secret:
            return 401, None
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=JWT_LEEWAY_SECONDS)
        except jwt.PyJWTError:
            return 401, None
        return None, claims

    def _handler_class(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "LiveKitHTTPDouble/1"

            def log_message(self, fmt, *args):  # keep test output clean
                pass

            def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
                double.requests.append({"method": self.command, "path": self.path, "status": status})
                self.send_response(status)
                if body or content_type != "text/plain":
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def _twirp_error(self, status: int, code: str, msg: str) -> None:
                body = json.dumps({"code": code, "msg": msg}).encode()
                self._send(status, body, "application/json")

            def _maybe_slow(self) -> None:
                if double._current_mode() == "slow":
                    double._stopping.wait(double.slow_seconds)

            def do_GET(self):
                self._maybe_slow()
                if self.path.startswith("/twirp/"):
                    self._twirp_error(404, "bad_route", 'unsupported method "GET" (only POST is allowed)')
                    return
                if self.path.split("?")[0] != "/":
                    self._send(404, b"404 page not found\n")
                    return
                if double._current_mode() == "starting":
                    self._send(406, b"Not Ready\nNode Updated At 0001-01-01 00:00:00 +0000 UTC")
                else:
                    self._send(200, b"OK")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length) if length else b""
                self._maybe_slow()
                status, claims = double._authenticate(self.headers.get("Authorization"))
                if status is not None:
                    self._send(status)
                    return
                path = self.path.split("?")[0]
                if path != LIST_ROOMS_PATH:
                    self._twirp_error(404, "bad_route", f"no handler for path {path!r}")
                    return
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if content_type not in ("application/json", "application/protobuf"):
                    self._twirp_error(404, "bad_route", f"unexpected Content-Type: {content_type!r}")
                    return
                video = (claims or {}).get("video") or {}
                if not video.get("roomList"):
                    self._twirp_error(401, "unauthenticated", "permissions denied")
                    return
                if content_type == "application/json":
                    self._send(200, b'{"rooms":[]}', "application/json")
                else:
                    self._send(200, b"", "application/protobuf")  # empty ListRoomsResponse

        return Handler


def _keys_from(text: str) -> dict[str, str]:
    """Parse LiveKit's `key: secret` lines (LIVEKIT_KEYS / the keys: section of livekit.yaml)."""
    keys = {}
    for line in text.splitlines():
        if ":" in line and not line.strip().startswith("#"):
            key, _, secret = line.strip().partition(":")
            if key and secret.strip():
                keys[key.strip()] = secret.strip().strip("'\"")
    return keys


def serve_cli(argv: list[str] | None = None) -> int:
    """Entry point for a stand-in `livekit-server`: accepts the flags MedCall passes to the real one
    (--dev, --bind, --port, --config) and the LIVEKIT_KEYS environment variable.

    Test knobs (environment): LIVEKIT_DOUBLE_STARTING_FOR=<seconds of 406 before 200>,
    LIVEKIT_DOUBLE_EXIT=<code> to fail at start-up after writing LIVEKIT_DOUBLE_STDERR to stderr."""
    parser = argparse.ArgumentParser(prog="livekit-server")
    parser.add_argument("--dev", action="store_true")
    parser.add_argument("--bind", action="append", default=[])
    parser.add_argument("--port", type=int, default=7880)
    parser.add_argument("--config", default="")
    args = parser.parse_args(argv)

    print(f"starting LiveKit double with args {argv!r}", file=sys.stderr, flush=True)
    exit_code = os.environ.get("LIVEKIT_DOUBLE_EXIT")
    if exit_code:
        sys.stderr.write(os.environ.get("LIVEKIT_DOUBLE_STDERR", "fatal error") + "\n")
        sys.stderr.flush()
        return int(exit_code)

    keys: dict[str, str] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            config = fh.read()
        in_keys = False
        section = []
        for line in config.splitlines():
            if line.startswith("keys:"):
                in_keys = True
                continue
            if in_keys and line.startswith((" ", "\t")):
                section.append(line)
            elif in_keys:
                in_keys = False
        keys = _keys_from("\n".join(section))
    if os.environ.get("LIVEKIT_KEYS"):
        keys = _keys_from(os.environ["LIVEKIT_KEYS"])
    if not keys and args.dev:
        keys = dict(DEV_KEYS)
    if os.environ.get("LIVEKIT_CONFIG"):
        # The real server reads LIVEKIT_CONFIG as a YAML config *body*; a path there is a fatal error.
        sys.stderr.write("could not parse config: LIVEKIT_CONFIG is not valid YAML\n")
        return 1

    host = args.bind[0] if args.bind else "127.0.0.1"
    starting_for = os.environ.get("LIVEKIT_DOUBLE_STARTING_FOR")
    double = LiveKitHTTPDouble(
        keys=keys, host=host, port=args.port, starting_for=float(starting_for) if starting_for else None
    )
    print(f"LiveKit double listening on {host}:{double.port}", file=sys.stderr, flush=True)
    try:
        double.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
