"""/lk/ same-origin proxy to LiveKit signalling, through a real Daphne and a real WebSocket client."""
import asyncio
import urllib.request

import aiohttp
import pytest

from tunnels.tests.doubles.livekit_signal import LiveKitSignalDouble

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def signal_double():
    with LiveKitSignalDouble() as double:
        yield double


@pytest.fixture
def daphne_with_livekit(transactional_db, request, signal_double, tmp_path):
    from django.db import connection

    from medcall.tests.celery_worker_process import database_url_for
    from medcall.tests.live_daphne import LiveDaphne

    server = LiveDaphne(
        database_url=database_url_for(connection.settings_dict),
        log_path=tmp_path / "daphne.log",
        env={"LIVEKIT_URL": signal_double.url, "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"},
    )
    try:
        yield server.start()
    finally:
        server.stop()


async def _exchange(base: str, path: str):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(base.replace("http://", "ws://") + path) as ws:
            await ws.send_bytes(b"\x00\x01protobuf\xff")
            first = await asyncio.wait_for(ws.receive(), 10)
            await ws.send_str('{"ping": 1}')
            second = await asyncio.wait_for(ws.receive(), 10)
            return first, second


def test_it_relays_binary_and_text_frames_to_livekit(daphne_with_livekit, signal_double):
    first, second = asyncio.run(_exchange(daphne_with_livekit, "/lk/rtc?access_token=abc&protocol=15&sdk=js"))
    assert first.type == aiohttp.WSMsgType.BINARY and first.data == b"\x00\x01protobuf\xff"
    assert second.type == aiohttp.WSMsgType.TEXT and second.data == '{"ping": 1}'
    assert signal_double.received == [("binary", b"\x00\x01protobuf\xff"), ("text", '{"ping": 1}')]
    assert signal_double.queries[-1] == {"access_token": "abc", "protocol": "15", "sdk": "js"}


def test_it_relays_rtc_v1_as_well(daphne_with_livekit, signal_double):
    first, _ = asyncio.run(_exchange(daphne_with_livekit, "/lk/rtc/v1?access_token=abc"))
    assert first.data == b"\x00\x01protobuf\xff"


def test_it_relays_validate_with_its_status(daphne_with_livekit):
    with _opener.open(f"{daphne_with_livekit}/lk/rtc/validate?access_token=abc", timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b"success"
    with pytest.raises(urllib.error.HTTPError) as exc:
        _opener.open(f"{daphne_with_livekit}/lk/rtc/validate", timeout=10)
    assert exc.value.code == 401


def test_it_refuses_paths_outside_rtc(daphne_with_livekit):
    with pytest.raises(urllib.error.HTTPError) as exc:
        _opener.open(f"{daphne_with_livekit}/lk/twirp/livekit.RoomService/ListRooms", timeout=10)
    assert exc.value.code == 404


async def _rejected(url):
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url) as ws:
                msg = await asyncio.wait_for(ws.receive(), 10)
                return ws.close_code or msg.data
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


def test_it_closes_when_livekit_is_not_configured(live_daphne):
    result = asyncio.run(_rejected(live_daphne.replace("http://", "ws://") + "/lk/rtc?access_token=abc"))
    assert result in (403, 4404)
    with pytest.raises(urllib.error.HTTPError) as exc:
        _opener.open(f"{live_daphne}/lk/rtc/validate?access_token=abc", timeout=10)
    assert exc.value.code == 404
