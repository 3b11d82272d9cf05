"""OpenAISTTDouble: a loopback HTTP server that answers like OpenAI's `POST /v1/audio/transcriptions`
(and Azure's `/openai/deployments/<name>/audio/transcriptions?api-version=`), for the `openai` engine."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class OpenAISTTDouble:
    def __init__(self, *, text: str = "Tenho febre.", statuses: list[int] | None = None, delay: float = 0.0):
        self.text = text
        self.statuses = list(statuses or [])  # answered in order before succeeding with 200
        self.delay = delay
        self.requests: list[dict] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlparse(self.path)
                double.requests.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers),
                                        "body": body})
                if double.delay:
                    threading.Event().wait(double.delay)
                if not url.path.endswith("/audio/transcriptions"):
                    return self._json(404, {"error": {"message": "Not found"}})
                auth_ok = self.headers.get("Authorization") == "Bearer sk-test" or self.headers.get("api-key") == "az-key"
                if not auth_ok:
                    return self._json(401, {"error": {"message": "Incorrect API key provided"}})
                if double.statuses:
                    return self._json(double.statuses.pop(0), {"error": {"message": "try again"}})
                if b'name="file"' not in body or b"RIFF" not in body or b'name="model"' not in body:
                    return self._json(400, {"error": {"message": "file and model are required"}})
                return self._json(200, {"task": "transcribe", "language": "portuguese", "duration": 1.0,
                                        "text": double.text,
                                        "segments": [{"id": 0, "text": double.text, "avg_logprob": -0.25}]})

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
