"""CloudflaredMetricsDouble: a loopback server answering as cloudflared's metrics server does
(cloudflare/cloudflared metrics/metrics.go and metrics/readiness.go):

- `GET /quicktunnel` → `{"hostname":"<name>.trycloudflare.com"}` (no scheme);
- `GET /ready` → 200 `{"status":200,"readyConnections":N,"connectorId":"<uuid>"}` once connected to
  the edge, 503 with readyConnections 0 before (`ready_after` seconds);
- `GET /healthcheck` → `OK`; `GET /metrics` → Prometheus text.

`serve_cli()` is what a stand-in `cloudflared` executable (written by a test) runs: it parses the real
command line (`tunnel --no-autoupdate --metrics 127.0.0.1:P --url http://...`), prints cloudflared's
log lines to stderr and serves this double on P until terminated; `--double-mode rate_limit` prints
the 429 failure cloudflared logs when trycloudflare.com refuses a quick tunnel, and exits 1.
No Django imports.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler

from tunnels.tests.doubles import LoopbackHTTPServer, LoopbackServerDouble


class CloudflaredMetricsDouble(LoopbackServerDouble):
    def __init__(self, *, hostname: str = "clinic-words-sample-medcall.trycloudflare.com", ready_after: float = 0.0,
                 port: int = 0, connections: int = 4):
        self.hostname = hostname
        self.ready_after = ready_after
        self.connections = connections
        self.connector_id = str(uuid.uuid4())
        self._port = port
        self._started_at = 0.0
        self._server: LoopbackHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready_connections(self) -> int:
        return self.connections if time.monotonic() - self._started_at >= self.ready_after else 0

    def start(self) -> CloudflaredMetricsDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/quicktunnel":
                    return self._send(200, json.dumps({"hostname": double.hostname}).encode(), "application/json")
                if self.path == "/ready":
                    ready = double.ready_connections()
                    status = 200 if ready > 0 else 503
                    body = {"status": status, "readyConnections": ready, "connectorId": double.connector_id}
                    return self._send(status, json.dumps(body).encode(), "application/json")
                if self.path == "/healthcheck":
                    return self._send(200, b"OK\n", "text/plain")
                if self.path == "/metrics":
                    text = f"cloudflared_tunnel_ha_connections {double.ready_connections()}\n"
                    return self._send(200, text.encode(), "text/plain; version=0.0.4")
                return self._send(404, b"404 page not found\n", "text/plain")

            def _send(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = LoopbackHTTPServer(("127.0.0.1", self._port), Handler)
        self._started_at = time.monotonic()
        threading.Thread(target=self._server.serve_forever, daemon=True, name="cloudflared-double").start()
        return self



def serve_cli(argv: list[str] | None = None) -> int:
    """Entry point of a stand-in `cloudflared` executable (see module docstring)."""
    parser = argparse.ArgumentParser(prog="cloudflared")
    parser.add_argument("command")
    parser.add_argument("--no-autoupdate", action="store_true")
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--double-mode", default="ok", choices=["ok", "rate_limit", "never_ready"])
    parser.add_argument("--double-hostname", default="clinic-words-sample-medcall.trycloudflare.com")
    args = parser.parse_args(argv)
    log = sys.stderr
    print("2025-01-01T00:00:00Z INF Thank you for trying Cloudflare Tunnel.", file=log, flush=True)
    print("2025-01-01T00:00:00Z INF Requesting new quick Tunnel on trycloudflare.com...", file=log, flush=True)
    if args.double_mode == "rate_limit":
        print(
            '2025-01-01T00:00:01Z ERR Error unmarshaling QuickTunnel response: error="invalid character \'e\' '
            'looking for beginning of value" status_code="429 Too Many Requests"',
            file=log,
            flush=True,
        )
        print("failed to unmarshal quick Tunnel: invalid character 'e' looking for beginning of value", file=log, flush=True)
        return 1
    host, _, port = args.metrics.rpartition(":")
    double = CloudflaredMetricsDouble(
        hostname=args.double_hostname, port=int(port), ready_after=0.3 if args.double_mode == "ok" else 1e9
    )
    double.start()
    print(f"2025-01-01T00:00:01Z INF |  https://{args.double_hostname}  |", file=log, flush=True)
    print(f"2025-01-01T00:00:01Z INF Starting metrics server on {host}:{port}/metrics", file=log, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve_cli())
