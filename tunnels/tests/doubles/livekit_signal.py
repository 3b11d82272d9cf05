"""LiveKitSignalDouble: a loopback aiohttp server standing in for livekit-server's signalling.

- WebSocket `/rtc?access_token=…` (and `/rtc/v1`): refuses the upgrade with 401 when there is no
  access_token (LiveKit does the same), otherwise echoes every frame back with its type kept
  (LiveKit signalling is protobuf in binary frames), and records what it received.
- `GET /rtc/validate`: 200 `success` with a token, 401 without — the request livekit-client makes to
  explain a failed connection.
"""
from __future__ import annotations

import asyncio
import threading

from aiohttp import WSMsgType, web


class LiveKitSignalDouble:
    def __init__(self):
        self.received: list[tuple[str, bytes | str]] = []
        self.queries: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _rtc(self, request: web.Request):
        self.queries.append(dict(request.query))
        if not request.query.get("access_token"):
            return web.Response(status=401, text="no permissions to access the room")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                self.received.append(("binary", msg.data))
                await ws.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                self.received.append(("text", msg.data))
                await ws.send_str(msg.data)
        return ws

    async def _validate(self, request: web.Request):
        if not request.query.get("access_token"):
            return web.Response(status=401, text="no permissions to access the room")
        return web.Response(text="success")

    def start(self) -> LiveKitSignalDouble:
        app = web.Application()
        app.router.add_get("/rtc", self._rtc)
        app.router.add_get("/rtc/v1", self._rtc)
        app.router.add_get("/rtc/validate", self._validate)
        app.router.add_get("/rtc/v1/validate", self._validate)
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        async def cleanup():
            await self._runner.cleanup()

        fut = asyncio.run_coroutine_threadsafe(cleanup(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
