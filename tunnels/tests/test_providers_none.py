"""none provider: links stay local and every call says so."""
import pytest

from tunnels.providers.base import TunnelError
from tunnels.providers.none import NoneProvider


def test_it_refuses_to_open_and_explains_how_to_turn_links_on():
    provider = NoneProvider()
    ok, reason = provider.available()
    assert not ok and "TUNNEL_PROVIDER" in reason
    with pytest.raises(TunnelError) as caught:
        provider.open(local_host="127.0.0.1", local_port=8000)
    assert caught.value.code == "disabled"
    assert caught.value.message == reason
    assert not provider.is_alive()
    provider.close()
