"""Patient links: token, expiry, revocation, landing page, "Gerar link" API and panel."""
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from consultations.models import Consultation, PatientLink
from consultations.services import (
    LinkNotAllowed,
    consultation_link_issue,
    consultation_transition,
    patient_link_from_token,
    patient_link_token,
)
from tunnels.services import public_endpoint_set

PUBLIC = "https://clinica-teste.ngrok-free.app"


@pytest.fixture
def verified_tunnel(db):
    public_endpoint_set(provider="static", public_url=PUBLIC, state="verified", instance_id="x")
    yield PUBLIC
    public_endpoint_set(provider="", public_url="", state="closed")


@pytest.fixture
def no_tunnel(db):
    public_endpoint_set(provider="", public_url="", state="closed")


@pytest.fixture
def idle_supervisor():
    """A real Supervisor registered for this process but not started: requests queue up in it."""
    from tunnels.orchestrator import Orchestrator
    from tunnels.supervisor import Supervisor

    sup = Supervisor(Orchestrator(web_port=1))
    with Supervisor._current_lock:
        Supervisor._current = sup
    yield sup
    with Supervisor._current_lock:
        Supervisor._current = None


def _token_of(url: str) -> str:
    return url.rsplit("/p/", 1)[1]


# --- tokens and services -----------------------------------------------------------------------


def test_it_signs_tokens_and_rejects_tampered_ones(consultation, ctx_alice):
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    token = patient_link_token(link)
    assert patient_link_from_token(token) == link
    assert patient_link_from_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert patient_link_from_token("garbage") is None
    assert patient_link_from_token("") is None


def test_it_expires_after_the_configured_ttl(consultation, ctx_alice, settings):
    settings.PATIENT_LINK_TTL_HOURS = 2
    before = timezone.now()
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    assert timedelta(hours=2) - timedelta(seconds=5) < link.expires_at - before <= timedelta(hours=2, seconds=5)
    assert link.state() == "valid"
    assert link.state(now=link.expires_at + timedelta(seconds=1)) == "expired"


def test_it_revokes_the_previous_link_when_a_new_one_is_issued(consultation, ctx_alice):
    first = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    second = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    first.refresh_from_db()
    assert first.state() == "revoked" and first.revoked_reason == "replaced"
    assert second.state() == "valid"
    events = AuditEvent.objects.filter(action="consultation.link_issued", target_id=str(consultation.pk))
    assert events.count() == 2
    assert events.first().actor == ctx_alice.user


@pytest.mark.parametrize("final", ["completed", "cancelled"])
def test_it_revokes_links_when_the_consultation_ends(consultation, ctx_alice, final):
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    if final == "completed":
        consultation_transition(ctx=ctx_alice, consultation=consultation, to="in_progress")
    consultation_transition(ctx=ctx_alice, consultation=consultation, to=final)
    link.refresh_from_db()
    assert link.state() == "revoked" and link.revoked_reason == final
    with pytest.raises(LinkNotAllowed):
        consultation_link_issue(ctx=ctx_alice, consultation=consultation)


def test_it_refuses_links_for_in_person_consultations(consultation, ctx_alice):
    Consultation.objects.filter(pk=consultation.pk).update(type="in_person")
    consultation.refresh_from_db()
    with pytest.raises(LinkNotAllowed):
        consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    assert not PatientLink.objects.exists()


# --- patient landing page ----------------------------------------------------------------------


def test_it_shows_the_landing_page_with_first_name_only_and_audits_it(client, consultation, ctx_alice):
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    resp = client.get(f"/p/{patient_link_token(link)}")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "Maria" in html
    assert "Silva" not in html  # no surname
    assert "529" not in html and "Dor de cabeça" not in html  # no CPF, no complaint
    assert "Clínica Boa Saúde" in html and "Alice Souza" in html
    assert "Entrar na consulta" in html  # pt-BR by default
    assert resp["Referrer-Policy"] == "no-referrer"
    event = AuditEvent.objects.get(action="patient_link.opened")
    assert event.target_id == str(consultation.pk) and event.actor is None and event.actor_label == "patient-link"
    link.refresh_from_db()
    assert link.first_opened_at is not None


def test_it_answers_404_for_a_tampered_token(client, consultation, ctx_alice):
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    token = patient_link_token(link)
    resp = client.get(f"/p/{token[:-2]}xx")
    assert resp.status_code == 404
    assert "Maria" not in resp.content.decode()
    assert not AuditEvent.objects.filter(action="patient_link.opened").exists()


def test_it_answers_410_for_expired_and_revoked_links(client, consultation, ctx_alice):
    old = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    new = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    resp = client.get(f"/p/{patient_link_token(old)}")
    assert resp.status_code == 410
    assert "não é mais válido" in resp.content.decode()
    assert "Maria" not in resp.content.decode()
    PatientLink.objects.filter(pk=new.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    resp = client.get(f"/p/{patient_link_token(new)}")
    assert resp.status_code == 410
    assert "expirou" in resp.content.decode()


def test_it_speaks_english_on_the_landing_page_when_asked(client, consultation, ctx_alice):
    link = consultation_link_issue(ctx=ctx_alice, consultation=consultation)
    resp = client.get(f"/p/{patient_link_token(link)}", HTTP_ACCEPT_LANGUAGE="en")
    assert "Join the consultation" in resp.content.decode()


# --- API ---------------------------------------------------------------------------------------


def test_it_returns_a_ready_link_at_once_when_the_tunnel_is_verified(alice_client, consultation, verified_tunnel):
    resp = alice_client.post(f"/api/v1/consultations/{consultation.pk}/link/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ready"
    assert body["url"].startswith(PUBLIC + "/p/")
    assert body["expires_at"]
    link = patient_link_from_token(_token_of(body["url"]))
    assert link.consultation_id == consultation.pk and not link.pending


def test_it_answers_preparing_with_steps_and_asks_the_supervisor(alice_client, consultation, no_tunnel, idle_supervisor):
    resp = alice_client.post(f"/api/v1/consultations/{consultation.pk}/link/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "preparing"
    assert [s["name"] for s in body["steps"]] == ["livekit", "web", "tunnel", "verify"]
    assert all(set(s) == {"name", "state", "message"} for s in body["steps"])
    assert idle_supervisor._requests == ["bring_up"]
    assert PatientLink.objects.get(consultation=consultation).pending is True


def test_it_uses_the_public_url_current_at_request_time(alice_client, consultation, verified_tunnel):
    from consultations.services import consultation_link_status

    alice_client.post(f"/api/v1/consultations/{consultation.pk}/link/")
    public_endpoint_set(provider="ngrok", public_url="https://another.ngrok-free.app", state="verified")
    status = consultation_link_status(consultation=consultation)
    assert status["url"].startswith("https://another.ngrok-free.app/p/")


def test_it_hides_other_clinics_consultations_from_the_link_api(charlie_client, consultation, verified_tunnel):
    resp = charlie_client.post(f"/api/v1/consultations/{consultation.pk}/link/")
    assert resp.status_code == 404
    assert not PatientLink.objects.exists()


def test_it_answers_409_for_a_finished_consultation(alice_client, consultation, ctx_alice, verified_tunnel):
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="cancelled")
    resp = alice_client.post(f"/api/v1/consultations/{consultation.pk}/link/")
    assert resp.status_code == 409
    assert "detail" in resp.json()


def test_it_accepts_token_auth_on_the_link_api(client, alice, consultation, verified_tunnel):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=alice.user)
    resp = client.post(f"/api/v1/consultations/{consultation.pk}/link/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert resp.status_code == 200 and resp.json()["status"] == "ready"
    assert client.post(f"/api/v1/consultations/{consultation.pk}/link/").status_code in (401, 403)


# --- doctor's panel (htmx) ---------------------------------------------------------------------


def test_it_renders_the_ready_panel_with_copy_qr_whatsapp_and_email(alice_client, consultation, verified_tunnel):
    resp = alice_client.post(reverse("consultation-link-generate", args=[consultation.pk]), HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="patient-link-url"' in html and PUBLIC + "/p/" in html
    assert "<svg" in html  # QR code
    assert "https://wa.me/?text=" in html and "Maria" in html
    assert "Enviar por e-mail" in html


def test_it_renders_the_preparing_panel_with_live_steps(alice_client, consultation, no_tunnel, idle_supervisor):
    resp = alice_client.post(reverse("consultation-link-generate", args=[consultation.pk]))
    html = resp.content.decode()
    assert "Preparando" in html
    assert 'hx-trigger="every 2s"' in html  # polling fallback to the WebSocket


def test_it_refuses_get_on_mutating_link_views(alice_client, consultation):
    assert alice_client.get(reverse("consultation-link-generate", args=[consultation.pk])).status_code == 405
    assert alice_client.get(reverse("consultation-link-email", args=[consultation.pk])).status_code == 405


def test_it_hides_the_panel_from_other_clinics(charlie_client, consultation, verified_tunnel):
    assert charlie_client.post(reverse("consultation-link-generate", args=[consultation.pk])).status_code == 404
    assert charlie_client.get(reverse("consultation-link-panel", args=[consultation.pk])).status_code == 404


def test_it_emails_the_link_to_the_patient(alice_client, consultation, verified_tunnel):
    alice_client.post(reverse("consultation-link-generate", args=[consultation.pk]))
    resp = alice_client.post(reverse("consultation-link-email", args=[consultation.pk]))
    assert resp.status_code == 200
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["maria@example.com"]
    assert PUBLIC + "/p/" in mail.outbox[0].body


def test_it_explains_when_the_patient_has_no_email(alice_client, consultation, verified_tunnel):
    from patients.models import Patient

    Patient.objects.filter(pk=consultation.patient_id).update(email="")
    alice_client.post(reverse("consultation-link-generate", args=[consultation.pk]))
    resp = alice_client.post(reverse("consultation-link-email", args=[consultation.pk]))
    assert resp.status_code == 409
    assert "não tem e-mail" in resp.content.decode()
    assert not mail.outbox
