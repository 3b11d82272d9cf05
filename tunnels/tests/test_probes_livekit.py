"""probe_livekit against LiveKitHTTPDouble (loopback), and the double's own fidelity to LiveKit."""
import json
import stat
import urllib.error
import urllib.request

import pytest
from livekit.api import AccessToken, VideoGrants

from tunnels import probes
from tunnels.tests.doubles.livekit import LIST_ROOMS_PATH, LiveKitHTTPDouble, free_port

KEY = "medcall-key"
SECRET = "medcall-secret-0123456789abcdef0123"


@pytest.fixture
def livekit():
    with LiveKitHTTPDouble(api_key=KEY, api_secret=SECRET) as double:
        yield double


def test_it_reports_up_when_livekit_is_ready_and_accepts_the_keys(livekit):
    result = probes.probe_livekit(url=livekit.url, api_key=KEY, api_secret=SECRET)

    assert result.state == probes.UP
    assert f"127.0.0.1:{livekit.port}" in result.message
    assert result.details["rooms"] == 0
    # The health check came first, then the authenticated Twirp call, as livekit-api sends it.
    assert [(r["method"], r["path"], r["status"]) for r in livekit.requests] == [
        ("GET", "/", 200),
        ("POST", LIST_ROOMS_PATH, 200),
    ]


def test_it_reports_starting_while_livekit_answers_406(livekit):
    livekit.mode = "starting"

    result = probes.probe_livekit(url=livekit.url, api_key=KEY, api_secret=SECRET)

    assert result.state == probes.STARTING
    assert result.details["http_status"] == 406
    assert "iniciando" in result.message
    # No API call is attempted against a node that is not ready.
    assert [r["path"] for r in livekit.requests] == ["/"]


def test_it_reports_down_with_port_and_fix_when_nothing_listens():
    port = free_port()

    result = probes.probe_livekit(url=f"http://127.0.0.1:{port}", api_key=KEY, api_secret=SECRET)

    assert result.state == probes.DOWN
    assert result.details["error"] == "connection refused"
    assert f"127.0.0.1:{port}" in result.message
    assert "livekit-server --dev" in result.message
    assert "LIVEKIT_AUTOSTART" in result.message
    assert "não responde" in result.message


def test_it_reports_down_when_livekit_does_not_answer_in_time():
    with LiveKitHTTPDouble(mode="slow", slow_seconds=5, api_key=KEY, api_secret=SECRET) as slow:
        result = probes.probe_livekit(url=slow.url, api_key=KEY, api_secret=SECRET, timeout=0.3)

    assert result.state == probes.DOWN
    assert result.details["error"] == "timeout"
    assert f"127.0.0.1:{slow.port}" in result.message


def test_it_reports_invalid_credentials_not_down_when_the_secret_is_wrong(livekit):
    result = probes.probe_livekit(url=livekit.url, api_key=KEY, api_secret="wrong-secret-0123456789abcdef012345")

    assert result.state == probes.DEGRADED
    assert "credenciais do LiveKit inválidas" in result.message
    assert "LIVEKIT_API_SECRET" in result.message
    assert result.details["api_status"] == 401
    assert "wrong-secret" not in json.dumps(result.details) + result.message


def test_it_reports_invalid_credentials_when_the_api_key_is_unknown(livekit):
    result = probes.probe_livekit(url=livekit.url, api_key="someone-else", api_secret=SECRET)

    assert result.state == probes.DEGRADED
    assert "credenciais do LiveKit inválidas" in result.message


def test_it_reports_degraded_when_livekit_runs_but_no_keys_are_set(livekit):
    result = probes.probe_livekit(url=livekit.url, api_key="", api_secret="")

    assert result.state == probes.DEGRADED
    assert "LIVEKIT_API_KEY" in result.message
    assert [r["path"] for r in livekit.requests] == ["/"]


def test_it_reports_degraded_when_something_else_owns_the_port(livekit):
    # A web server that answers 404 on "/" is not LiveKit (e.g. another program on 7880).
    result = probes.probe_livekit(url=livekit.url + "/not-livekit", api_key=KEY, api_secret=SECRET)

    assert result.state == probes.DEGRADED
    assert result.details["http_status"] == 404


def test_it_is_disabled_and_mentions_peer_to_peer_when_livekit_is_not_configured(settings):
    settings.LIVEKIT_URL = ""
    settings.LIVEKIT_AUTOSTART = False

    result = probes.probe_livekit()

    assert probes.livekit_configured() is False
    assert result.state == probes.DISABLED
    assert "ponto a ponto" in result.message


def test_it_uses_the_configured_url_and_keys_and_accepts_ws_scheme(settings, livekit):
    settings.LIVEKIT_URL = f"ws://127.0.0.1:{livekit.port}"
    settings.LIVEKIT_API_KEY = KEY
    settings.LIVEKIT_API_SECRET = SECRET

    result = probes.probe_livekit()

    assert probes.livekit_url() == livekit.url
    assert result.state == probes.UP


def test_it_is_configured_by_autostart_only_when_a_binary_exists(settings, tmp_path, monkeypatch):
    settings.LIVEKIT_URL = ""
    settings.LIVEKIT_AUTOSTART = True
    settings.LIVEKIT_BIN = ""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert probes.livekit_configured() is False

    binary = tmp_path / "livekit-server"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    assert probes.livekit_configured() is True
    assert probes.livekit_url() == f"http://127.0.0.1:{settings.LIVEKIT_PORT}"


def test_it_runs_from_inside_a_running_event_loop(livekit):
    # The supervisor may call probes from async code; livekit-api then runs on a helper thread.
    import asyncio

    async def inside_loop():
        return probes.probe_livekit(url=livekit.url, api_key=KEY, api_secret=SECRET)

    assert asyncio.run(inside_loop()).state == probes.UP


# --- the double answers as LiveKit does -------------------------------------------------------------


def _twirp(url, *, token=None, auth_header=None, body=b"{}"):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if auth_header is not None:
        headers["Authorization"] = auth_header
    request = urllib.request.Request(url + LIST_ROOMS_PATH, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_it_double_lists_rooms_for_a_token_with_the_room_list_grant(livekit):
    token = AccessToken(KEY, SECRET).with_grants(VideoGrants(room_list=True)).to_jwt()

    assert _twirp(livekit.url, token=token) == (200, b'{"rooms":[]}')


def test_it_double_answers_twirp_unauthenticated_without_the_grant(livekit):
    token = AccessToken(KEY, SECRET).with_grants(VideoGrants(room_join=True, room="r")).with_identity("x").to_jwt()

    status, body = _twirp(livekit.url, token=token)
    assert status == 401
    assert json.loads(body) == {"code": "unauthenticated", "msg": "permissions denied"}
    # No token at all reaches the handler too, and is refused the same way.
    status, body = _twirp(livekit.url)
    assert (status, json.loads(body)["code"]) == (401, "unauthenticated")


def test_it_double_rejects_a_bad_signature_in_the_auth_middleware_with_an_empty_401(livekit):
    forged = AccessToken(KEY, "not-the-secret-0123456789abcdef0123").with_grants(VideoGrants(room_list=True)).to_jwt()

    assert _twirp(livekit.url, token=forged) == (401, b"")
    assert _twirp(livekit.url, auth_header="Basic abc") == (401, b"")
