"""ngrok provider: an already-running agent found through its local API (double), and the SDK path."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tunnels.providers.base import TunnelError
from tunnels.providers.ngrok import NgrokProvider, upstream_port
from tunnels.tests.doubles.ngrok_agent import NgrokAgentAPIDouble

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def agent():
    with NgrokAgentAPIDouble() as double:
        yield double


@pytest.mark.parametrize(
    "address, expected",
    [
        ("localhost:8000", ("localhost", 8000)),
        ("http://localhost:8000", ("localhost", 8000)),
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("8000", ("localhost", 8000)),
        ("https://127.0.0.1:8443", ("127.0.0.1", 8443)),
    ],
)
def test_it_understands_every_upstream_spelling(address, expected):
    assert upstream_port(address) == expected


def test_it_uses_the_agent_tunnel_that_forwards_to_our_port(agent):
    agent.add_tunnel("http://localhost:3000", public_url="https://other-app.ngrok-free.app")
    agent.add_tunnel("http://127.0.0.1:8000", public_url="https://medcall-clinic.ngrok-free.app")
    provider = NgrokProvider(authtoken="", agent_api=agent.url)

    assert provider.available() == (True, "")
    handle = provider.open(local_host="127.0.0.1", local_port=8000)

    assert handle.provider == "ngrok"
    assert handle.public_url == "https://medcall-clinic.ngrok-free.app"
    assert handle.local_port == 8000
    assert handle.details["mode"] == "agent"
    assert "warning" not in handle.details
    assert any(path == "/api/endpoints" for path, _ in agent.requests)
    assert provider.is_alive()


def test_it_falls_back_to_api_tunnels_on_agents_without_endpoints(tmp_path):
    with NgrokAgentAPIDouble(endpoints_api=False) as agent:
        agent.add_tunnel("8000", public_url="https://legacy.ngrok-free.app")
        handle = NgrokProvider(authtoken="", agent_api=agent.url).open(local_host="127.0.0.1", local_port=8000)
        paths = [path for path, _ in agent.requests]
    assert handle.public_url == "https://legacy.ngrok-free.app"
    assert "/api/tunnels" in paths and paths.index("/api/endpoints") < len(paths) - 1


def test_it_warns_when_the_agent_forwards_to_localhost(agent):
    agent.add_tunnel("http://localhost:8000")
    handle = NgrokProvider(authtoken="", agent_api=agent.url).open(local_host="127.0.0.1", local_port=8000)
    assert "ngrok http 127.0.0.1:8000" in handle.details["warning"]


def test_it_explains_an_agent_that_forwards_elsewhere(agent):
    agent.add_tunnel("http://localhost:3000")
    with pytest.raises(TunnelError) as caught:
        NgrokProvider(authtoken="", agent_api=agent.url).open(local_host="127.0.0.1", local_port=8000)
    assert caught.value.code == "ngrok_agent_no_tunnel"
    assert caught.value.port == 8000
    assert "http://localhost:3000" in caught.value.message
    assert "ngrok http 127.0.0.1:8000" in caught.value.message


def test_it_is_no_longer_alive_when_the_agent_drops_the_tunnel_and_close_leaves_the_agent_alone(agent):
    agent.add_tunnel("http://127.0.0.1:8000")
    provider = NgrokProvider(authtoken="", agent_api=agent.url)
    provider.open(local_host="127.0.0.1", local_port=8000)

    provider.close()
    provider.close()  # idempotent
    assert not provider.is_alive()
    assert len(agent.tunnels) == 1  # the agent's tunnel is not ours to stop

    provider.open(local_host="127.0.0.1", local_port=8000)
    agent.remove_tunnels()
    assert not provider.is_alive()


def test_it_is_unavailable_without_token_or_agent():
    dead_api = f"http://127.0.0.1:{free_port()}"
    provider = NgrokProvider(authtoken="", agent_api=dead_api)
    ok, reason = provider.available()
    assert not ok
    assert "NGROK_AUTHTOKEN" in reason and dead_api in reason
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000)
    assert caught.value.code == "ngrok_unavailable"
    assert not provider.is_alive()


def test_it_opens_through_the_sdk_and_reports_a_session_failure_then_exits_cleanly():
    """The real SDK path, pointed at a loopback port with nothing listening instead of ngrok's cloud —
    alone, and when a running agent forwards elsewhere (the token then wins over the agent).

    Runs in a child process: the SDK's runtime used to crash the interpreter at exit after a session
    attempt; the provider's shutdown hook must let the process exit with its own status."""
    script = f"""
import json, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings")
django.setup()
from tunnels.providers.ngrok import NgrokProvider
from tunnels.providers.base import TunnelError
from tunnels.tests.doubles.ngrok_agent import NgrokAgentAPIDouble

def attempt(agent_api):
    provider = NgrokProvider(authtoken="not-a-real-token", agent_api=agent_api, server_addr="127.0.0.1:{free_port()}")
    try:
        provider.open(local_host="127.0.0.1", local_port=8000, timeout=20)
        return {{"code": None}}
    except TunnelError as exc:
        return {{"code": exc.code, "port": exc.port, "message": exc.message, "agent": exc.details.get("agent")}}
    finally:
        provider.close()

alone = attempt("http://127.0.0.1:{free_port()}")
with NgrokAgentAPIDouble() as agent:
    agent.add_tunnel("http://localhost:3000")
    beside_agent = attempt(agent.url)
print(json.dumps([alone, beside_agent]))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    alone, beside_agent = json.loads(result.stdout.strip().splitlines()[-1])
    assert alone["code"] == "ngrok_connect"
    assert alone["port"] == 8000
    assert "8000" in alone["message"]
    assert "not-a-real-token" not in alone["message"]
    assert beside_agent["code"] == "ngrok_connect"
    assert beside_agent["agent"]["forwards"] == ["http://localhost:3000"]


def test_it_describes_the_media_path():
    note = NgrokProvider(authtoken="", agent_api="http://127.0.0.1:9").media_note()
    assert "TURN" in note
