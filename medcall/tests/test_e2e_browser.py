"""End to end in headless Chromium against a real Daphne: log in, register a patient, schedule a
consultation, see it on the dashboard. Screenshots go to var/artifacts/ (kept as CI artifacts)."""
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

pytestmark = pytest.mark.browser

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection", "--no-proxy-server",
]


def test_it_logs_in_registers_a_patient_schedules_a_consultation_and_shows_it(live_daphne, alice):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API runs an event loop in this thread, where Django refuses ORM calls:
    # the browser part runs first, the database checks after it has closed.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            _click_through(playwright, chromium, live_daphne)
        finally:
            chromium.close()

    # What the clicks wrote, with their audit rows (same transaction as the writes).
    from audit.models import AuditEvent
    from consultations.models import Consultation
    from patients.models import Patient

    created = Patient.objects.get(cpf="39053344705")
    assert created.clinic == alice.clinic and created.phone == "+5511912345678"
    consultation = Consultation.objects.get(patient=created)
    assert consultation.doctor == alice and consultation.status == "waiting"
    assert consultation.chief_complaint == "Tosse há duas semanas"
    actions = set(AuditEvent.objects.filter(actor=alice.user).values_list("action", flat=True))
    assert {"patient.created", "patient.viewed", "consultation.created", "consultation.viewed"} <= actions
    # The dashboard that showed it recorded which consultations were on screen.
    shown = AuditEvent.objects.filter(actor=alice.user, action="consultation.listed", extra__via="dashboard")
    assert any(consultation.pk in e.extra["ids"] for e in shown)


def _click_through(playwright, chromium, live_daphne):
    when = timezone.localtime() + timedelta(days=1)
    when_value = when.strftime("%Y-%m-%dT10:30")

    # A phone-sized screen: the doctor may well be working from one.
    context = chromium.new_context(**playwright.devices["iPhone 13"], locale="pt-BR")
    page = context.new_page()
    page.set_default_timeout(15_000)

    page.goto(live_daphne + "/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Usuário").fill("alice")
    page.get_by_label("Senha").fill("s3nha-forte-123")
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url(live_daphne + "/")

    page.get_by_role("link", name="Pacientes").click()
    page.get_by_role("link", name="Novo paciente").click()
    page.get_by_label("Nome completo").fill("Carla Mendes Teste")
    page.get_by_label("CPF").fill("39053344705")
    page.get_by_label("Telefone").fill("(11) 91234-5678")
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(f"{live_daphne}/patients/*/")
    assert page.get_by_role("heading", name="Carla Mendes Teste").is_visible()
    assert page.get_by_text("390.533.447-05").is_visible()

    # "Nova consulta" from the patient page: the patient comes preselected.
    page.locator(".page-head").get_by_role("link", name="Nova consulta").click()
    assert page.get_by_label("Paciente").input_value() != ""
    page.get_by_label("Tipo").select_option("online")
    page.get_by_label("Data e hora").fill(when_value)
    page.get_by_label("Queixa principal").fill("Tosse há duas semanas")
    page.get_by_role("button", name="Agendar consulta").click()
    page.wait_for_url(f"{live_daphne}/consultations/*/")
    assert page.get_by_text("Consulta agendada.").is_visible()
    assert page.locator("#consultation-status").inner_text() == "Aguardando"

    page.get_by_role("link", name="Painel").click()
    page.wait_for_url(live_daphne + "/")
    row = page.locator("#upcoming-list .row-item", has_text="Carla Mendes Teste")
    assert row.is_visible()
    assert "Tosse há duas semanas" in row.inner_text()
    # Readable at phone width: nothing forces sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.screenshot(path=str(ARTIFACTS / "e2e-dashboard-mobile.png"), full_page=True)
    context.close()

    desktop = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
    desktop_page = desktop.new_page()
    desktop_page.goto(live_daphne + "/accounts/login/")
    desktop_page.get_by_label("Usuário").fill("alice")
    desktop_page.get_by_label("Senha").fill("s3nha-forte-123")
    desktop_page.get_by_role("button", name="Entrar").click()
    desktop_page.wait_for_url(live_daphne + "/")
    assert desktop_page.locator("#upcoming-list", has_text="Carla Mendes Teste").is_visible()
    desktop_page.screenshot(path=str(ARTIFACTS / "e2e-dashboard.png"), full_page=True)
    desktop.close()

