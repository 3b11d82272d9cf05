"""HealthzDouble: a loopback HTTP server answering `GET /healthz` in medcall/health.py's shape
(`{"status", "instance", "checks"}`), standing in for the MedCall web server behind a tunnel.

`tls=(cert_path, key_path)` serves HTTPS (the lan certificate); `status=503` answers as /healthz does
when the database is down. Records each request's headers. No Django imports.
"""
from __future__ import annotations

import json
import secrets
import ssl
import threading
from http.server import BaseHTTPRequestHandler

from tunnels.tests.doubles import LoopbackHTTPServer, LoopbackServerDouble


class HealthzDouble(LoopbackServerDouble):
    def __init__(self, *, instance: str | None = None, status: int = 200, tls: tuple[str, str] | None = None):
        self.instance = instance or secrets.token_hex(8)
        self.status = status
        self.tls = tls
        self.requests: list[dict] = []
        self._server: LoopbackHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def body(self) -> dict:
        if self.status == 200:
            return {"status": "ok", "instance": self.instance, "checks": {"database": "ok"}}
        return {"status": "error", "instance": self.instance, "checks": {"database": "down"}, "failing": ["database"]}

    def start(self) -> HealthzDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                double.requests.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/healthz":
                    payload = json.dumps(double.body()).encode()
                    status, content_type = double.status, "application/json"
                else:
                    payload, status, content_type = b"<h1>Not Found</h1>", 404, "text/html"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="healthz-double").start()
        return self

