"""Browser: the doctor clicks "Gerar link" while the tunnel is still starting, sees "Preparando…",
then the link appears by itself; the link opened on a phone shows the patient landing page.

Runs against `manage.py runtunnels` (web server + supervisor in one process, as in embedded mode),
whose tunnel is a real TCP forwarder held down by a control file until the test lets it up.
"""
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from medcall.tests.celery_worker_process import database_url_for
from tunnels.tests.runtunnels_process import RunTunnelsProcess, service

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-proxy-server",
]


def test_it_shows_preparing_then_the_link_which_opens_on_a_phone(transactional_db, tmp_path, alice, patient):
    from django.core.cache import cache
    from playwright.sync_api import expect, sync_playwright

    from audit.services import AuditContext
    from consultations.services import consultation_create
    from tunnels.orchestrator import LEASE_KEY

    cache.delete(LEASE_KEY)
    consultation = consultation_create(
        ctx=AuditContext.system("test"), doctor=alice, patient=patient, scheduled_for=timezone.now() + timedelta(minutes=30)
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rt = RunTunnelsProcess(database_url=database_url_for(connection.settings_dict), workdir=tmp_path)
    rt.forwarder("down")  # the tunnel cannot come up yet
    rt.start()
    try:
        rt.wait_for(lambda s: service(s, "web")["state"] == "up" and service(s, "tunnel")["state"] == "down", what="web up, tunnel down")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            try:
                doctor = browser.new_context(locale="pt-BR").new_page()
                doctor.set_default_timeout(20_000)
                doctor.goto(rt.local_url + "/accounts/login/")
                doctor.get_by_label("Usuário").fill("alice")
                doctor.get_by_label("Senha").fill("s3nha-forte-123")
                doctor.get_by_role("button", name="Entrar").click()
                doctor.wait_for_url(rt.local_url + "/")
                doctor.goto(f"{rt.local_url}/consultations/{consultation.pk}/")
                doctor.get_by_role("button", name="Gerar link").click()
                expect(doctor.locator("#link-preparing")).to_contain_text("Preparando")
                doctor.screenshot(path=str(ARTIFACTS / "link-preparing.png"), full_page=True)

                rt.forwarder("up")  # the supervisor heals the tunnel; the page hears about it
                url_box = doctor.locator("#patient-link-url")
                expect(url_box).to_be_visible(timeout=60_000)
                link = url_box.input_value()
                assert link.startswith(rt.public_url + "/p/")
                assert "wa.me" in doctor.locator("#share-whatsapp").get_attribute("href")
                doctor.screenshot(path=str(ARTIFACTS / "link-ready.png"), full_page=True)

                phone = browser.new_context(**pw.devices["iPhone 13"], locale="pt-BR").new_page()
                phone.goto(link)
                expect(phone.get_by_role("heading")).to_contain_text("Olá, Maria!")
                expect(phone.get_by_text("Entrar na consulta")).to_be_visible()
                assert "Silva" not in phone.content()
                phone.screenshot(path=str(ARTIFACTS / "patient-landing.png"), full_page=True)
            finally:
                browser.close()
    finally:
        rt.stop()

    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="consultation.link_issued", target_id=str(consultation.pk)).exists()
    assert AuditEvent.objects.filter(action="patient_link.opened", target_id=str(consultation.pk)).exists()
