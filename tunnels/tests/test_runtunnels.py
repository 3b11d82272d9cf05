"""End to end: `manage.py runtunnels` with a real TCP forwarder as the tunnel.

start → verify → generate a link → fetch the link through the forwarder; take the forwarder down →
the tunnel's state goes down with the right message; bring it back → healed; SIGTERM → clean stop.
"""
import urllib.request
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from medcall.tests.celery_worker_process import database_url_for
from tunnels.tests.runtunnels_process import RunTunnelsProcess, service

pytestmark = pytest.mark.slow

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def runtunnels(transactional_db, tmp_path):
    from django.core.cache import cache

    from tunnels.orchestrator import LEASE_KEY

    cache.delete(LEASE_KEY)  # a lease left by another test's orchestrator (shared Redis) must not block healing
    proc = RunTunnelsProcess(database_url=database_url_for(connection.settings_dict), workdir=tmp_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _get(url, **headers):
    req = urllib.request.Request(url, headers={"ngrok-skip-browser-warning": "1", **headers})
    try:
        with _opener.open(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_it_starts_verifies_issues_a_link_heals_and_stops(runtunnels, alice, patient):
    from rest_framework.authtoken.models import Token

    from audit.services import AuditContext
    from consultations.services import consultation_create

    consultation = consultation_create(
        ctx=AuditContext.system("test"), doctor=alice, patient=patient, scheduled_for=timezone.now() + timedelta(hours=1)
    )
    token = Token.objects.create(user=alice.user)

    # start → verified: the public URL is the forwarder's, and it reaches this very server.
    status = runtunnels.wait_for(lambda s: s["public_url"] == runtunnels.public_url, what="verified tunnel")
    assert service(status, "tunnel")["state"] == "up"
    assert service(status, "web")["state"] == "up"
    assert service(status, "livekit")["state"] == "disabled"

    # generate a link through the public URL (the API), then open it through the forwarder.
    req = urllib.request.Request(
        f"{runtunnels.public_url}/api/v1/consultations/{consultation.pk}/link/",
        method="POST",
        headers={"Authorization": f"Token {token.key}", "Content-Type": "application/json"},
        data=b"{}",
    )
    with _opener.open(req, timeout=10) as resp:
        import json

        body = json.loads(resp.read())
    assert body["status"] == "ready"
    assert body["url"].startswith(runtunnels.public_url + "/p/")
    code, html = _get(body["url"])
    assert code == 200
    assert "Maria" in html and "Silva" not in html  # first name only on the landing page

    # take the tunnel down: within one check the state is down with the tunnel's message.
    runtunnels.forwarder("down")
    status = runtunnels.wait_for(lambda s: service(s, "tunnel")["state"] == "down", timeout=15, what="tunnel down")
    assert status["public_url"] is None
    message = service(status, "tunnel")["message"]
    assert "forwarder" in message.lower() or "túnel" in message.lower()

    # while down, a new link request answers "preparing" at once, with the start-up steps.
    with _opener.open(
        urllib.request.Request(
            f"{runtunnels.local_url}/api/v1/consultations/{consultation.pk}/link/",
            method="POST",
            headers={"Authorization": f"Token {token.key}", "Content-Type": "application/json"},
            data=b"{}",
        ),
        timeout=10,
    ) as resp:
        preparing = json.loads(resp.read())
    assert preparing["status"] == "preparing"
    assert [s["name"] for s in preparing["steps"]] == ["livekit", "web", "tunnel", "verify"]

    # bring it back: the supervisor reopens and re-verifies the tunnel.
    runtunnels.forwarder("up")
    status = runtunnels.wait_for(lambda s: s["public_url"] == runtunnels.public_url, timeout=60, what="healed tunnel")
    assert service(status, "tunnel")["state"] == "up"
    code, _ = _get(f"{runtunnels.public_url}/healthz")
    assert code == 200

    # SIGTERM: clean stop, states set to down, tunnel closed.
    assert runtunnels.stop() == 0, runtunnels.log_tail()
    final = runtunnels.status()
    assert service(final, "tunnel")["state"] == "down"
    assert service(final, "web")["state"] == "down"
    assert final["public_url"] is None
    with pytest.raises(OSError):
        _opener.open(f"{runtunnels.public_url}/healthz", timeout=3)
