"""Same-origin proxy for LiveKit signalling under /lk/.

The patient's phone gets one public HTTPS origin (one tunnel). livekit-client connects to
`wss://<public host>/lk/rtc?access_token=…` (and GETs `/lk/rtc/validate` when a connection fails);
we relay those to the LiveKit server configured in LIVEKIT_URL. WebSocket frames are relayed as
they come, text and binary (LiveKit's signalling is protobuf over binary frames). LiveKit checks the
access token itself; we only ever connect to the configured server, never to a client-chosen host.
Media (UDP/TCP to LiveKit's RTC ports) does not pass through here.
"""
from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)

# Paths livekit-client uses: rtc, rtc/v1, rtc/validate, rtc/v1/validate.
ALLOWED_PREFIX = "rtc"
UPSTREAM_TIMEOUT = 10.0
MAX_FRAME = 4 * 1024 * 1024


def _upstream(path: str, query: str, *, websocket: bool) -> str | None:
    base = getattr(settings, "LIVEKIT_URL", "") or ""
    if not base:
        return None
    parts = urlsplit(base)
    scheme = parts.scheme
    if websocket:
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    else:
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    full_path = parts.path.rstrip("/") + "/" + path.lstrip("/")
    return urlunsplit((scheme, parts.netloc, full_path, query, ""))


def _path_ok(path: str) -> bool:
    return (path == ALLOWED_PREFIX or path.startswith(ALLOWED_PREFIX + "/")) and ".." not in path


class LiveKitSignalProxy(AsyncWebsocketConsumer):
    """Relays one browser WebSocket to LiveKit's /rtc endpoint, frame by frame."""

    async def connect(self):
        path = self.scope["url_route"]["kwargs"].get("path", "")
        query = self.scope.get("query_string", b"").decode("latin-1")
        url = _upstream(path, query, websocket=True) if _path_ok(path) else None
        if url is None:
            await self.close(code=4404)
            return
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=UPSTREAM_TIMEOUT))
        try:
            self._upstream = await self._session.ws_connect(url, max_msg_size=MAX_FRAME, autoping=True, heartbeat=20)
        except Exception as exc:
            log.warning("LiveKit upstream %s unreachable: %s", urlsplit(url).netloc, type(exc).__name__)
            await self._session.close()
            await self.close(code=4502)
            return
        await self.accept()
        self._pump = asyncio.create_task(self._from_upstream())

    async def _from_upstream(self):
        try:
            async for msg in self._upstream:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await self.send(bytes_data=msg.data)
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    await self.send(text_data=msg.data)
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
        except Exception:
            log.info("LiveKit upstream relay ended", exc_info=True)
        finally:
            code = self._upstream.close_code if getattr(self, "_upstream", None) is not None else None
            await self.close(code=code if code and 1000 <= code < 5000 and code not in (1005, 1006) else 1000)

    async def receive(self, text_data=None, bytes_data=None):
        upstream = getattr(self, "_upstream", None)
        if upstream is None or upstream.closed:
            return
        if bytes_data is not None:
            await upstream.send_bytes(bytes_data)
        elif text_data is not None:
            await upstream.send_str(text_data)

    async def disconnect(self, code):
        pump = getattr(self, "_pump", None)
        if pump is not None and not pump.done():
            pump.cancel()
        upstream = getattr(self, "_upstream", None)
        if upstream is not None and not upstream.closed:
            await upstream.close()
        session = getattr(self, "_session", None)
        if session is not None and not session.closed:
            await session.close()


@require_GET
async def lk_http_proxy(request, path: str):
    """GET /lk/rtc/validate (and other GETs under /lk/rtc) relayed to LiveKit."""
    if not _path_ok(path):
        return JsonResponse({"error": "not found"}, status=404)
    url = _upstream(path, request.META.get("QUERY_STRING", ""), websocket=False)
    if url is None:
        return JsonResponse({"error": "LiveKit is not configured on this server (calls use peer-to-peer mode)."}, status=404)
    headers = {}
    if request.headers.get("Authorization"):
        headers["Authorization"] = request.headers["Authorization"]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT)) as session:
            async with session.get(url, headers=headers) as resp:
                body = await resp.read()
                return HttpResponse(body, status=resp.status, content_type=resp.headers.get("Content-Type", "text/plain"))
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.warning("LiveKit upstream unreachable for %s: %s", path, type(exc).__name__)
        return JsonResponse({"error": "LiveKit server unreachable"}, status=502)
