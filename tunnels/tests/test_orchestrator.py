"""The orchestrator in-process: ordered start-up, verification, heal with backoff, lease.

The web server is a real Daphne subprocess (`live_daphne`), the tunnel a real TCP forwarder, LiveKit
the HTTP double. Nothing of ours is replaced.
"""
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache

from consultations.models import PatientLink
from consultations.services import consultation_link_issue
from medcall.realtime import consultation_group
from tunnels.models import PublicEndpoint, ServiceStatus
from tunnels.orchestrator import LEASE_KEY, Orchestrator, _local_instance, link_steps
from tunnels.services import public_endpoint_get, public_url_get
from tunnels.tests.doubles.livekit import LiveKitHTTPDouble, free_port
from tunnels.tests.forwarder import ForwarderProvider


@pytest.fixture(autouse=True)
def _clean_lease():
    cache.delete(LEASE_KEY)
    yield
    cache.delete(LEASE_KEY)


def _orchestrator(live_daphne, **kw) -> Orchestrator:
    port = int(live_daphne.rsplit(":", 1)[1])
    orch = Orchestrator(web_host="127.0.0.1", web_port=port, expected_instance=_local_instance(live_daphne), **kw)
    orch._provider = ForwarderProvider()
    return orch


def _state(name):
    return ServiceStatus.objects.get(name=name)


def test_it_never_opens_the_tunnel_while_livekit_is_starting(live_daphne, settings):
    with LiveKitHTTPDouble(mode="starting", api_key="k", api_secret="s") as lk:
        settings.LIVEKIT_URL = lk.url
        settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = "k", "s"
        orch = _orchestrator(live_daphne)
        assert orch.bring_up() is False
    assert _state("livekit").state == "starting"
    assert orch.handle is None and not orch.provider.is_alive()
    assert public_url_get() is None
    assert [s["state"] for s in link_steps()][:1] == ["running"]


def test_it_never_opens_the_tunnel_while_the_web_server_is_down(transactional_db, settings):
    settings.LIVEKIT_URL = ""
    orch = Orchestrator(web_host="127.0.0.1", web_port=free_port(), expected_instance="x")
    orch._provider = ForwarderProvider()
    assert orch._step_web(attempts=1) is False
    assert _state("web").state == "down"
    assert "127.0.0.1" in _state("web").message
    assert orch.handle is None


def test_it_verifies_end_to_end_then_publishes_the_url_and_notifies_pending_links(live_daphne, settings, consultation, ctx_alice):
    settings.LIVEKIT_URL = ""
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation, pending=True)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(consultation_group(consultation.pk), channel)

    orch = _orchestrator(live_daphne)
    assert orch.bring_up() is True

    assert public_url_get() == orch.handle.public_url
    endpoint = public_endpoint_get()
    assert endpoint.state == "verified" and endpoint.instance_id == orch.expected_instance
    assert _state("tunnel").state == "up" and _state("livekit").state == "disabled" and _state("web").state == "up"
    assert [s["state"] for s in link_steps()] == ["skipped", "ok", "ok", "ok"]
    assert PatientLink.objects.get(pk=link.pk).pending is False
    event = async_to_sync(layer.receive)(channel)
    assert event["type"] == "link.status" and event["status"] == "ready"
    assert event["url"].startswith(orch.handle.public_url + "/p/")
    orch.shutdown()
    assert public_url_get() is None


def test_it_refuses_a_url_that_reaches_another_server(live_daphne, settings):
    settings.LIVEKIT_URL = ""
    orch = _orchestrator(live_daphne)
    orch.expected_instance = "not-this-server"
    assert orch._step_web(attempts=1) is False  # web probe also checks the instance
    assert orch._step_tunnel_and_verify() is False
    tunnel = _state("tunnel")
    assert tunnel.state == "down" and tunnel.details["code"] == "verify_mismatch"
    assert public_url_get() is None
    orch.shutdown()


def test_it_heals_a_dead_tunnel_with_backoff(live_daphne, settings):
    settings.LIVEKIT_URL = ""
    orch = _orchestrator(live_daphne)
    assert orch.bring_up() is True
    url = orch.handle.public_url

    orch.provider.stop()  # the tunnel dies under us
    states = orch.check(heal=True)
    assert states["tunnel"] == "down"
    assert public_url_get() is None
    assert "reabri" in _state("tunnel").message  # pt-BR: "vai reabri-lo automaticamente"

    # Within the backoff window the next check does not hammer the provider...
    assert orch.check(heal=True)["tunnel"] == "down"
    assert orch._tunnel_backoff.failures >= 1
    # ...after it, the tunnel is reopened and verified again (same forwarder port → same URL).
    orch._tunnel_backoff.next_at = time.monotonic() - 1
    assert orch.check(heal=True)["tunnel"] == "up"
    assert public_url_get() == url
    orch.shutdown()


def test_it_lets_only_the_lease_holder_heal(live_daphne, settings):
    settings.LIVEKIT_URL = ""
    first = _orchestrator(live_daphne)
    second = _orchestrator(live_daphne)
    assert first.bring_up() is True
    assert second.bring_up() is True  # not the owner: it reports the published state...
    assert second.handle is None  # ...and opened nothing of its own
    first.shutdown()
    assert cache.get(LEASE_KEY) is None
    assert PublicEndpoint.objects.get().state == "closed"
