"""Admin "Status dos serviços" page, servicestatus command, media path notes."""
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditEvent
from consultations.models import PatientLink
from tunnels.services import public_endpoint_set, service_status_set


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "s3nha-forte-123")
    client.force_login(admin)
    return client


def test_it_lists_every_service_with_its_message_and_the_public_url(admin_client):
    service_status_set(name="web", state="up", message="Servidor web respondendo em 127.0.0.1:8000.")
    public_endpoint_set(provider="static", public_url="https://clinica.example.org", state="verified")
    resp = admin_client.get("/admin/services/")
    assert resp.status_code == 200
    html = resp.content.decode()
    for name in ("web", "livekit", "tunnel", "redis", "worker"):
        assert f'data-service="{name}"' in html
    assert "Servidor web respondendo em 127.0.0.1:8000." in html
    assert "https://clinica.example.org" in html
    assert "Verificar agora" in html and "Reiniciar túnel" in html
    assert 'id="media-path"' in html


def test_it_redirects_the_model_list_to_the_status_page(admin_client):
    resp = admin_client.get("/admin/tunnels/servicestatus/")
    assert resp.status_code == 302 and resp["Location"] == "/admin/services/"


def test_it_is_for_staff_only(client, alice):
    client.force_login(alice.user)
    resp = client.get("/admin/services/")
    assert resp.status_code == 302 and "/admin/login/" in resp["Location"]


def test_it_generates_a_link_for_a_chosen_consultation(admin_client, consultation):
    public_endpoint_set(provider="static", public_url="https://clinica.example.org", state="verified")
    resp = admin_client.post("/admin/services/", {"action": "link", "consultation": consultation.pk})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="admin-link"' in html and "https://clinica.example.org/p/" in html
    assert PatientLink.objects.filter(consultation=consultation).count() == 1
    event = AuditEvent.objects.get(action="consultation.link_issued")
    assert event.actor.username == "root"


def test_it_refuses_a_link_for_a_closed_consultation(admin_client, consultation, ctx_alice):
    from consultations.services import consultation_transition

    consultation_transition(ctx=ctx_alice, consultation=consultation, to="cancelled")
    resp = admin_client.post("/admin/services/", {"action": "link", "consultation": consultation.pk})
    assert resp.status_code == 200
    assert not PatientLink.objects.exists()
    assert "errorlist" in resp.content.decode()


def test_it_queues_check_and_restart_for_the_owner_process(admin_client):
    from tunnels.orchestrator import Orchestrator
    from tunnels.supervisor import Supervisor

    sup = Supervisor(Orchestrator(web_port=1))
    with Supervisor._current_lock:
        Supervisor._current = sup
    try:
        assert admin_client.post("/admin/services/", {"action": "check"}).status_code == 302
        assert admin_client.post("/admin/services/", {"action": "restart_tunnel"}).status_code == 302
    finally:
        with Supervisor._current_lock:
            Supervisor._current = None
    assert sup._requests == ["check", "restart_tunnel"]


def test_it_prints_status_as_json(db):
    service_status_set(name="redis", state="down", message="Redis não responde em 127.0.0.1:6379.")
    out = StringIO()
    call_command("servicestatus", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"public_url", "services"}
    assert [s["name"] for s in data["services"]] == ["web", "livekit", "tunnel", "redis", "worker"]
    redis = next(s for s in data["services"] if s["name"] == "redis")
    assert redis["state"] == "down" and "6379" in redis["message"]
    assert set(redis) == {"name", "state", "message", "checked_at"}
    out = StringIO()
    call_command("servicestatus", stdout=out)
    assert "redis" in out.getvalue() and "public URL" in out.getvalue()


def test_it_warns_that_remote_patients_need_turn_without_one(settings):
    from tunnels.media_path import media_path

    settings.LIVEKIT_URL, settings.TURN_URL, settings.ICE_SERVERS = "", "", []
    assert "TURN" in media_path("ngrok").warning
    settings.TURN_URL = "turn:turn.example.org:3478"
    assert media_path("ngrok").warning == ""
    settings.TURN_URL = ""
    settings.ICE_SERVERS = [{"urls": ["turns:t.example.org:443"], "username": "u", "credential": "c"}]
    assert media_path("cloudflared").warning == ""
    assert media_path("lan").warning == "" and "Wi-Fi" in media_path("lan").summary
    settings.LIVEKIT_URL = "wss://clinic.livekit.cloud"
    assert "LiveKit Cloud" in media_path("ngrok").summary


