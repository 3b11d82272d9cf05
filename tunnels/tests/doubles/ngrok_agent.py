"""NgrokAgentAPIDouble: a loopback server answering as a running ngrok agent's local API does, and
also as the *public* side of its tunnels, so tunnel_verify sees ngrok's real error pages.

Agent API (docs: https://ngrok.com/docs/agent/api):
- `GET /api/endpoints` (agent 3.16+): {"endpoints": [{"name", "uri", "url", "upstream": {"url",
  "protocol"}, "inspect", "traffic_policy", "pooling_enabled"}], "uri": "/api/endpoints"}.
  `endpoints_api=False` answers 404 there, like older agents.
- `GET /api/tunnels`: {"tunnels": [{"name", "ID", "uri", "public_url", "proto", "config": {"addr",
  "inspect"}, "metrics": {...}}], "uri": "/api/tunnels"}.

Public side (any other path), by `public_mode`:
- "forward": pass the GET to the first tunnel's upstream; when the upstream cannot be reached, answer
  like ngrok does: 502 + `ngrok-error-code: ERR_NGROK_8012` and the page naming the upstream.
- "offline": 404 + `ngrok-error-code: ERR_NGROK_3200` ("The endpoint ... is offline.").
- "8012": always the ERR_NGROK_8012 page.
- "browser_warning": ERR_NGROK_6024 interstitial unless `ngrok-skip-browser-warning` is sent.
No Django imports.
"""
from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tunnels.tests.doubles import LoopbackHTTPServer, LoopbackServerDouble

PAGE_8012 = """<!DOCTYPE html>
<html class="h-full" lang="en-US" dir="ltr">
<head><meta charset="utf-8"><title>ngrok - Agent failed to connect to upstream</title></head>
<body>
<div id="root"><h1>The endpoint is online but the agent failed to connect to the upstream</h1>
<p>Traffic was successfully tunneled to the ngrok agent, but the agent failed to establish a connection to the upstream web service at {upstream}. The error encountered was: <strong>dial tcp {dial}: connect: connection refused</strong></p>
<p>Check that a web service is running on that address.</p>
<p class="code">ERR_NGROK_8012</p></div>
</body>
</html>
"""

PAGE_3200 = """<!DOCTYPE html>
<html class="h-full" lang="en-US" dir="ltr">
<head><meta charset="utf-8"><title>ngrok - Endpoint offline</title></head>
<body><div id="root"><h1>The endpoint {host} is offline.</h1>
<p>The ngrok agent may have been stopped, or the tunnel session has expired.</p>
<p class="code">ERR_NGROK_3200</p></div></body>
</html>
"""

PAGE_6024 = """<!DOCTYPE html>
<html><head><title>ngrok - You are about to visit</title></head>
<body><div id="root"><h1>You are about to visit {host}</h1><button>Visit Site</button>
<p class="code">ERR_NGROK_6024</p></div></body></html>
"""


class NgrokAgentAPIDouble(LoopbackServerDouble):
    """Usage: `with NgrokAgentAPIDouble() as agent: agent.add_tunnel("http://localhost:8000"); agent.url`."""

    def __init__(self, *, endpoints_api: bool = True, public_mode: str = "forward"):
        self.endpoints_api = endpoints_api
        self.public_mode = public_mode
        self.tunnels: list[dict] = []
        self.requests: list[tuple[str, dict]] = []  # (path, headers) seen, for assertions
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # tunnels --------------------------------------------------------------------------------------

    def add_tunnel(self, upstream: str, *, public_url: str | None = None, name: str | None = None) -> dict:
        index = len(self.tunnels) + 1
        tunnel = {
            "name": name or ("command_line" if index == 1 else f"tunnel-{index}"),
            "public_url": public_url or f"https://{index:02d}a7c3e9d1f0.ngrok-free.app",
            "upstream": upstream,
        }
        self.tunnels.append(tunnel)
        return tunnel

    def remove_tunnels(self) -> None:
        self.tunnels.clear()

    def endpoints_json(self) -> dict:
        return {
            "endpoints": [
                {
                    "name": t["name"],
                    "uri": f"/api/endpoints/{t['name']}",
                    "url": t["public_url"],
                    "upstream": {"url": _as_url(t["upstream"]), "protocol": "http1"},
                    "inspect": True,
                    "traffic_policy": "",
                    "pooling_enabled": False,
                }
                for t in self.tunnels
            ],
            "uri": "/api/endpoints",
        }

    def tunnels_json(self) -> dict:
        zero = {"count": 0, "rate1": 0, "rate5": 0, "rate15": 0, "p50": 0, "p90": 0, "p95": 0, "p99": 0}
        return {
            "tunnels": [
                {
                    "name": t["name"],
                    "ID": f"{i:032x}",
                    "uri": f"/api/tunnels/{t['name']}",
                    "public_url": t["public_url"],
                    "proto": urlsplit(t["public_url"]).scheme,
                    "config": {"addr": _as_url(t["upstream"]), "inspect": True},
                    "metrics": {"conns": {**zero, "gauge": 0}, "http": zero},
                }
                for i, t in enumerate(self.tunnels, start=1)
            ],
            "uri": "/api/tunnels",
        }

    # server ---------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Agent API base (NGROK_AGENT_API) and, on any non-/api path, the tunnels' public side."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NgrokAgentAPIDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                double.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path.rstrip("/") == "/api/endpoints":
                    if not double.endpoints_api:
                        return self._send(404, b'{"error_code":100,"status_code":404,"msg":"Not Found"}', "application/json")
                    return self._send_json(double.endpoints_json())
                if self.path.rstrip("/") == "/api/tunnels":
                    return self._send_json(double.tunnels_json())
                if self.path.startswith("/api/"):
                    return self._send(404, b'{"error_code":100,"status_code":404,"msg":"Not Found"}', "application/json")
                return self._public()

            def _public(self):
                mode = double.public_mode
                host = self.headers.get("Host", "127.0.0.1")
                upstream = double.tunnels[0]["upstream"] if double.tunnels else "localhost:80"
                if mode == "offline":
                    return self._ngrok_page(404, "ERR_NGROK_3200", PAGE_3200.format(host=host))
                if mode == "browser_warning" and "ngrok-skip-browser-warning" not in {k.lower() for k in self.headers}:
                    return self._ngrok_page(200, "ERR_NGROK_6024", PAGE_6024.format(host=host))
                if mode == "8012":
                    return self._page_8012(upstream)
                target = urlsplit(_as_url(upstream))
                try:
                    connection = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=5)
                    connection.request("GET", self.path, headers={"Host": host, "X-Forwarded-Proto": "https"})
                    response = connection.getresponse()
                    body = response.read()
                    connection.close()
                except OSError:
                    return self._page_8012(upstream)
                return self._send(response.status, body, response.getheader("Content-Type", "application/octet-stream"))

            def _page_8012(self, upstream):
                hostport = upstream.split("://", 1)[-1]
                host = hostport.rsplit(":", 1)[0]
                dial = ("[::1]" if host == "localhost" else host) + ":" + hostport.rsplit(":", 1)[-1]
                return self._ngrok_page(502, "ERR_NGROK_8012", PAGE_8012.format(upstream=hostport, dial=dial))

            def _ngrok_page(self, status, code, page):
                return self._send(status, page.encode(), "text/html", {"ngrok-error-code": code})

            def _send_json(self, data):
                return self._send(200, json.dumps(data).encode(), "application/json")

            def _send(self, status, body, content_type, extra=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="ngrok-agent-double")
        self._thread.start()
        return self



def _as_url(upstream: str) -> str:
    """The agent reports upstreams as URLs ("http://localhost:8000") whatever form they were given in."""
    if upstream.isdigit():
        return f"http://localhost:{upstream}"
    return upstream if "://" in upstream else f"http://{upstream}"
