"""provider_get: names, dotted paths and the "auto" order (static → ngrok → cloudflared → lan)."""
import socket
import stat
import sys

import pytest

from tunnels.providers import provider_auto_name, provider_get
from tunnels.providers.base import TunnelError
from tunnels.tests.doubles.ngrok_agent import NgrokAgentAPIDouble
from tunnels.tests.forwarder import ForwarderProvider


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def nothing_configured(settings, tmp_path):
    settings.PUBLIC_BASE_URL = ""
    settings.NGROK_AUTHTOKEN = ""
    settings.NGROK_AGENT_API = f"http://127.0.0.1:{free_port()}"
    settings.CLOUDFLARED_BIN = str(tmp_path / "no-cloudflared")
    settings.TUNNEL_PROVIDER = "auto"
    return settings


def test_it_falls_back_to_lan_when_nothing_else_is_set_up(nothing_configured):
    assert provider_auto_name() == "lan"
    assert provider_get().name == "lan"


def test_it_prefers_static_when_a_public_url_is_set(nothing_configured):
    nothing_configured.PUBLIC_BASE_URL = "https://clinica.example.com"
    nothing_configured.NGROK_AUTHTOKEN = "token"
    assert provider_get().name == "static"


def test_it_picks_ngrok_when_a_token_is_set(nothing_configured):
    nothing_configured.NGROK_AUTHTOKEN = "token"
    assert provider_get("auto").name == "ngrok"


def test_it_picks_ngrok_when_an_agent_answers(nothing_configured):
    with NgrokAgentAPIDouble() as agent:
        nothing_configured.NGROK_AGENT_API = agent.url
        assert provider_auto_name() == "ngrok"


def test_it_picks_cloudflared_when_the_binary_exists(nothing_configured, tmp_path):
    binary = tmp_path / "cloudflared"
    binary.write_text(f"#!{sys.executable}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    nothing_configured.CLOUDFLARED_BIN = str(binary)
    assert provider_auto_name() == "cloudflared"


@pytest.mark.parametrize("name", ["ngrok", "cloudflared", "lan", "static", "none"])
def test_it_returns_a_new_provider_for_each_name(name):
    first, second = provider_get(name), provider_get(name)
    assert first.name == name and first is not second


def test_it_imports_a_dotted_provider_path(settings):
    settings.TUNNEL_PROVIDER = "tunnels.tests.forwarder.ForwarderProvider"
    assert isinstance(provider_get(), ForwarderProvider)


@pytest.mark.parametrize("name", ["wireguard", "tunnels.nothing.Here"])
def test_it_explains_an_unknown_provider(name):
    with pytest.raises(TunnelError) as caught:
        provider_get(name)
    assert caught.value.code == "unknown_provider"
    assert "TUNNEL_PROVIDER" in caught.value.message
