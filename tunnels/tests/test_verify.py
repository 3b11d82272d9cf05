"""tunnel_verify: <public>/healthz must come back from *this* instance; every failure is explained."""
import socket

import pytest

from tunnels.providers.base import TunnelError
from tunnels.providers.lan import lan_certificate
from tunnels.tests.doubles.healthz import HealthzDouble
from tunnels.tests.doubles.ngrok_agent import NgrokAgentAPIDouble
from tunnels.verify import tunnel_verify


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def upstream():
    with HealthzDouble() as double:
        yield double


def test_it_returns_the_healthz_json_of_this_instance(upstream):
    body = tunnel_verify(upstream.url, expected_instance=upstream.instance)
    assert body == {"status": "ok", "instance": upstream.instance, "checks": {"database": "ok"}}


def test_it_sends_the_ngrok_skip_header_and_a_medcall_user_agent(upstream):
    tunnel_verify(upstream.url + "/", expected_instance=upstream.instance)
    headers = upstream.requests[-1]
    assert headers["ngrok-skip-browser-warning"] == "1"
    assert headers["user-agent"].startswith("MedCall")


def test_it_accepts_our_own_503_because_the_tunnel_itself_works():
    with HealthzDouble(status=503) as double:
        body = tunnel_verify(double.url, expected_instance=double.instance)
    assert body["status"] == "error" and body["failing"] == ["database"]


def test_it_rejects_another_instance_behind_the_url(upstream):
    with pytest.raises(TunnelError) as caught:
        tunnel_verify(upstream.url, expected_instance="this-process")
    assert caught.value.code == "verify_mismatch"
    assert caught.value.details["remote_instance"] == upstream.instance
    assert upstream.url in caught.value.message
    assert "outro servidor MedCall" in caught.value.message


def test_it_rejects_a_url_that_is_not_medcall():
    with NgrokAgentAPIDouble() as agent:  # its public side forwards to a page without /healthz JSON
        with HealthzDouble() as other:
            agent.add_tunnel(f"http://127.0.0.1:{other.port}")
            other.status = 200
            with pytest.raises(TunnelError) as caught:
                tunnel_verify(agent.url + "/api", expected_instance="x")  # /api/healthz: agent 404 JSON
    assert caught.value.code == "verify_mismatch"


def test_it_passes_through_the_ngrok_agent_double_to_the_upstream(upstream):
    with NgrokAgentAPIDouble() as agent:
        agent.add_tunnel(f"http://127.0.0.1:{upstream.port}")
        body = tunnel_verify(agent.url, expected_instance=upstream.instance)
    assert body["instance"] == upstream.instance


def test_it_explains_err_ngrok_8012_with_the_port_and_localhost_advice():
    port = free_port()  # nothing listens: the agent cannot reach its upstream
    with NgrokAgentAPIDouble() as agent:
        agent.add_tunnel(f"localhost:{port}")
        with pytest.raises(TunnelError) as caught:
            tunnel_verify(agent.url, expected_instance="x")
    error = caught.value
    assert error.code == "ngrok_8012"
    assert error.port == port
    assert error.details["ngrok_error_code"] == "ERR_NGROK_8012"
    assert f"porta {port}" in error.message
    assert f"ngrok http 127.0.0.1:{port}" in error.message
    assert "::1" in error.message  # why localhost fails when MedCall listens on 127.0.0.1


def test_it_explains_err_ngrok_3200_offline_endpoint():
    with NgrokAgentAPIDouble(public_mode="offline") as agent:
        with pytest.raises(TunnelError) as caught:
            tunnel_verify(agent.url, expected_instance="x")
    assert caught.value.code == "ngrok_3200"
    assert "ERR_NGROK_3200" in caught.value.message
    assert "está fora do ar" in caught.value.message


def test_it_reports_a_refused_connection_as_unreachable():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TunnelError) as caught:
        tunnel_verify(url, expected_instance="x", timeout=2)
    assert caught.value.code == "unreachable"
    assert url in caught.value.message


def test_it_reports_a_silent_server_as_unreachable():
    with socket.socket() as silent:  # accepts TCP (backlog) but never answers HTTP
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(TunnelError) as caught:
            tunnel_verify(url, expected_instance="x", timeout=0.5)
    assert caught.value.code == "unreachable"


def test_it_trusts_our_self_signed_certificate_only_when_given_it(tmp_path):
    cert, key = lan_certificate(directory=tmp_path, ips=["127.0.0.1"])
    with HealthzDouble(tls=(str(cert), str(key))) as double:
        body = tunnel_verify(double.url, expected_instance=double.instance, verify=str(cert))
        assert body["instance"] == double.instance
        with pytest.raises(TunnelError) as caught:
            tunnel_verify(double.url, expected_instance=double.instance, verify=True)
    assert caught.value.code == "certificate"
    assert "var/tls/" in caught.value.message
