"""cloudflared provider: the real subprocess path, with a stand-in `cloudflared` executable that
serves the metrics double (tunnels/tests/doubles/cloudflared.py) on the port it is given."""
import socket
import stat
import sys
from pathlib import Path

import pytest

from tunnels.providers.base import TunnelError
from tunnels.providers.cloudflared import CloudflaredProvider
from tunnels.providers.localhttp import http_get
from tunnels.tests.doubles.cloudflared import CloudflaredMetricsDouble

REPO = Path(__file__).resolve().parents[2]


def stand_in(tmp_path: Path, mode: str = "ok") -> str:
    """Write an executable named cloudflared that runs the metrics double with the real command line."""
    path = tmp_path / "cloudflared"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from tunnels.tests.doubles.cloudflared import serve_cli\n"
        f"sys.exit(serve_cli(sys.argv[1:] + ['--double-mode', {mode!r}]))\n",
        encoding="utf-8",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_opens_a_quick_tunnel_read_from_the_metrics_server(tmp_path):
    provider = CloudflaredProvider(binary=stand_in(tmp_path))
    assert provider.available() == (True, "")
    try:
        handle = provider.open(local_host="127.0.0.1", local_port=8000, timeout=30)
        assert handle.provider == "cloudflared"
        assert handle.public_url == "https://clinic-words-sample-medcall.trycloudflare.com"
        assert handle.local_port == 8000
        assert handle.details["metrics"].startswith("http://127.0.0.1:")
        assert provider.is_alive()
        process = provider._process
    finally:
        provider.close()
    assert process.poll() is not None  # the child was stopped
    assert not provider.is_alive()
    provider.close()  # idempotent


def test_it_reports_the_quick_tunnel_rate_limit(tmp_path):
    provider = CloudflaredProvider(binary=stand_in(tmp_path, "rate_limit"))
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000, timeout=30)
    assert caught.value.code == "cloudflared_rate_limit"
    assert caught.value.port == 8000
    assert "429" in caught.value.message
    assert "NGROK_AUTHTOKEN" in caught.value.message
    assert not provider.is_alive()


def test_it_gives_up_and_stops_the_child_when_the_tunnel_never_gets_ready(tmp_path):
    provider = CloudflaredProvider(binary=stand_in(tmp_path, "never_ready"))
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000, timeout=2)
    assert caught.value.code == "cloudflared_timeout"
    assert provider._process is None


def test_it_says_how_to_install_a_missing_binary(tmp_path):
    provider = CloudflaredProvider(binary=str(tmp_path / "no-such-cloudflared"))
    ok, reason = provider.available()
    assert not ok and "CLOUDFLARED_BIN" in reason
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000)
    assert caught.value.code == "cloudflared_missing"


def test_the_metrics_double_answers_like_cloudflared_before_and_after_the_edge_connects():
    with CloudflaredMetricsDouble(ready_after=60) as waiting:
        reply = http_get(f"{waiting.url}/ready", timeout=2)
        assert reply.status == 503 and reply.json()["readyConnections"] == 0
    with CloudflaredMetricsDouble() as ready:
        assert http_get(f"{ready.url}/ready", timeout=2).json()["readyConnections"] == 4
        assert http_get(f"{ready.url}/quicktunnel", timeout=2).json() == {"hostname": ready.hostname}
