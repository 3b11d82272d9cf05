"""OpenAIChatDouble: a loopback HTTP server that speaks the chat-completions API as OpenAI
(`POST /chat/completions`, Bearer auth) and Azure OpenAI (`POST /openai/deployments/<name>/chat/
completions?api-version=…`, `api-key` header) document it. `mode` picks the answer:

- "valid": 200 with `choices[0].message.content` = JSON of `content` (a dict) and a `usage` block
- "invalid_json": 200 whose content is not JSON
- "schema": 200 with JSON that does not match the schema the caller asked for
- "timeout": answers only after `delay` seconds (longer than the client's timeout)
- "error": 500 with an OpenAI-style error body
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class OpenAIChatDouble:
    def __init__(self, *, api_key: str = "sk-test", content: dict | None = None, usage=(120, 30)):
        self.api_key = api_key
        self.mode = "valid"
        self.content = content or {"suggestions": []}
        self.usage = usage
        self.delay = 3.0
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OpenAIChatDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                azure = url.path.startswith("/openai/deployments/")
                double.requests.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers),
                                        "body": body, "azure": azure})
                if not url.path.endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                if azure:
                    authorised = self.headers.get("api-key") == double.api_key and "api-version" in parse_qs(url.query)
                else:
                    authorised = self.headers.get("Authorization") == f"Bearer {double.api_key}"
                if not authorised:
                    return self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
                if double.mode == "timeout":
                    double._stop.wait(double.delay)
                    if double._stop.is_set():
                        return
                if double.mode == "error":
                    return self._json(500, {"error": {"message": "The server had an error", "type": "server_error"}})
                if double.mode == "invalid_json":
                    content = "Claro! Aqui estão as perguntas: 1) Há quanto tempo?"
                elif double.mode == "schema":
                    content = json.dumps({"perguntas": ["Há quanto tempo?"]})
                else:
                    content = json.dumps(double.content, ensure_ascii=False)
                self._json(200, {
                    "id": "chatcmpl-double", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "azure-deployment"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": double.usage[0], "completion_tokens": double.usage[1],
                              "total_tokens": sum(double.usage)},
                })

            def _json(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout case)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(5)
