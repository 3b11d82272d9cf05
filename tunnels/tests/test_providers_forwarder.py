"""ForwarderProvider (test-only): a real TCP forwarder, stoppable in-process and through a control file."""
import time

import pytest

from tunnels.providers.base import TunnelError
from tunnels.tests.doubles.healthz import HealthzDouble
from tunnels.tests.forwarder import ForwarderProvider
from tunnels.verify import tunnel_verify


@pytest.fixture
def upstream():
    with HealthzDouble() as double:
        yield double


def wait_until(condition, attempts=100):
    for _ in range(attempts):
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_it_forwards_to_the_local_server_and_can_be_stopped_and_started(upstream):
    provider = ForwarderProvider()
    handle = provider.open(local_host="127.0.0.1", local_port=upstream.port)
    try:
        assert handle.public_url != upstream.url
        assert tunnel_verify(handle.public_url, expected_instance=upstream.instance)["instance"] == upstream.instance
        assert provider.is_alive()

        provider.stop()
        assert not provider.is_alive()
        with pytest.raises(TunnelError) as caught:
            tunnel_verify(handle.public_url, expected_instance=upstream.instance, timeout=2)
        assert caught.value.code == "unreachable"

        provider.start()  # same port: the public URL is valid again
        assert tunnel_verify(handle.public_url, expected_instance=upstream.instance)["instance"] == upstream.instance
    finally:
        provider.close()
    assert not provider.is_alive()


def test_it_follows_its_control_file_across_processes(upstream, tmp_path):
    control = tmp_path / "control"
    provider = ForwarderProvider(control_file=str(control))
    handle = provider.open(local_host="127.0.0.1", local_port=upstream.port)
    try:
        control.write_text("down")
        assert wait_until(lambda: not provider.is_alive())
        with pytest.raises(TunnelError) as caught:
            provider.open(local_host="127.0.0.1", local_port=upstream.port)
        assert caught.value.code == "unreachable"

        control.write_text("up")
        handle = provider.open(local_host="127.0.0.1", local_port=upstream.port)
        assert tunnel_verify(handle.public_url, expected_instance=upstream.instance)["instance"] == upstream.instance
    finally:
        provider.close()
