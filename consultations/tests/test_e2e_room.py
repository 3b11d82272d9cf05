"""The consultation room end to end in headless Chromium (fake camera/mic) against a real Daphne:
a desktop doctor context and an iPhone-emulated patient context. Consent → pre-call check →
waiting room → admit → both sides connected with remote video → the doctor ends → the patient
sees the end page; status completed and the audit rows are there."""
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.browser

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection", "--no-proxy-server",
    "--autoplay-policy=no-user-gesture-required",
]
REMOTE_VIDEO_WIDTH = "() => document.getElementById('remote-video').videoWidth"


@pytest.fixture
def room_setup(live_daphne, alice, patient, ctx_system):
    """A consultation of its own (stale pages of another test must never answer its offers), a
    patient link, and alice's session cookie."""
    from consultations.services import consultation_create, consultation_link_issue, patient_link_token

    consultation = consultation_create(
        ctx=ctx_system, doctor=alice, patient=patient, scheduled_for=timezone.now() + timedelta(minutes=5)
    )
    link = consultation_link_issue(ctx=ctx_system, consultation=consultation)
    client = Client()
    client.force_login(alice.user)
    return {
        "base": live_daphne,
        "consultation": consultation,
        "token": patient_link_token(link),
        "session": client.cookies["sessionid"].value,
    }


def test_it_runs_a_call_from_the_link_to_the_end_page(room_setup):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, consultation = room_setup["base"], room_setup["consultation"]
    # Playwright's sync API runs an event loop in this thread, where Django refuses ORM calls:
    # the browser part runs first, the database checks after it has closed.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            doctor_ctx = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
            doctor_ctx.add_cookies([{"name": "sessionid", "value": room_setup["session"], "url": base}])
            doctor = doctor_ctx.new_page()
            doctor.set_default_timeout(20_000)
            doctor.on("dialog", lambda dialog: dialog.accept())  # "End the call for both?"

            phone_ctx = chromium.new_context(**playwright.devices["iPhone 13"], locale="pt-BR")
            phone = phone_ctx.new_page()
            phone.set_default_timeout(20_000)

            # The doctor goes from the consultation page into the room.
            doctor.goto(f"{base}/consultations/{consultation.pk}/")
            doctor.click("#open-room")
            doctor.wait_for_selector("#patient-presence:has-text('ainda não abriu o link')")

            # The patient opens the link on the phone, consents, and checks camera and microphone.
            phone.goto(f"{base}/p/{room_setup['token']}")
            phone.click("#enter-consultation")
            doctor.wait_for_selector("#patient-presence[data-state='opened']")
            phone.check("#consent-teleconsultation")
            phone.click("#consent-submit")  # transcription left unticked: the call is still allowed
            phone.wait_for_url(f"**/p/{room_setup['token']}/room/")
            phone.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
            assert phone.locator("#join").inner_text().strip() == "Entrar"
            phone.wait_for_selector("#join:not([disabled])")
            phone.click("#join")
            phone.wait_for_selector("#waiting-title:has-text('Aguardando')")
            assert "Alice Souza" in phone.locator("#waiting-title").inner_text()

            # The doctor sees the patient waiting and the consent given, and admits them.
            doctor.wait_for_selector("#patient-presence[data-state='waiting']")
            assert "Gravação/transcrição: recusada" in doctor.locator("#consent-summary").inner_text()
            doctor.click("#admit")

            # Both sides connected, each showing the other's camera.
            phone.wait_for_function(f"() => ({REMOTE_VIDEO_WIDTH})() > 0")
            doctor.wait_for_function(f"() => ({REMOTE_VIDEO_WIDTH})() > 0")
            phone.wait_for_selector("body[data-call='connected']")
            doctor.wait_for_selector("body[data-call='connected']")
            doctor.wait_for_selector("#consultation-status[data-status='in_progress']")
            doctor.wait_for_selector("#patient-presence[data-state='connected']")
            doctor.screenshot(path=str(ARTIFACTS / "room-doctor-in-call.png"))
            phone.screenshot(path=str(ARTIFACTS / "room-patient-in-call.png"))
            remote_on_phone = phone.evaluate(REMOTE_VIDEO_WIDTH)

            # Doctor mutes (the local track is disabled, the call stays up), then ends for both.
            doctor.click("#toggle-mic")
            assert doctor.evaluate("() => document.getElementById('self-view').srcObject.getAudioTracks()[0].enabled") is False
            doctor.click("#end-call")
            phone.wait_for_url(f"**/p/{room_setup['token']}/end/")
            phone.wait_for_selector("#end-title")
            end_title = phone.locator("#end-title").inner_text()
            doctor.wait_for_selector("#room-ended:not([hidden])")
            doctor.wait_for_selector("#consultation-status[data-status='completed']")
        finally:
            chromium.close()

    assert remote_on_phone > 0
    assert end_title == "Sua consulta foi encerrada"

    from audit.models import AuditEvent
    from consultations.models import CallSession, ConsentRecord

    consultation.refresh_from_db()
    assert consultation.status == "completed"
    assert consultation.started_at and consultation.ended_at
    consent = ConsentRecord.objects.get(consultation=consultation)
    assert consent.teleconsultation and not consent.transcription
    assert consent.channel == "patient_link" and consent.ip == "127.0.0.1" and "iPhone" in consent.user_agent
    session = CallSession.objects.get(consultation=consultation)
    assert session.status == "ended" and session.admitted_at is not None
    actions = list(
        AuditEvent.objects.filter(target_type="consultations.consultation", target_id=str(consultation.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    for action in ("patient_link.opened", "consent.recorded", "call.admitted", "call.presence", "call.ended"):
        assert action in actions
    transitions = list(
        AuditEvent.objects.filter(action="consultation.status_changed", target_id=str(consultation.pk))
        .order_by("id")
        .values_list("extra", flat=True)
    )
    assert [(t["from"], t["to"]) for t in transitions] == [("waiting", "in_progress"), ("in_progress", "completed")]
    # The link died with the consultation.
    assert consultation.links.get().state() == "revoked"


def test_it_recovers_when_the_patient_reloads_during_the_call(room_setup, ctx_system, alice):
    """Same link, no new admission: the reloaded page rejoins and media flows again both ways."""
    from playwright.sync_api import sync_playwright

    from audit.services import AuditContext
    from consultations.room_services import call_admit, consent_record

    base, consultation = room_setup["base"], room_setup["consultation"]
    consent_record(ctx=ctx_system, consultation=consultation, teleconsultation=True, transcription=True, channel="patient_link")
    call_admit(ctx=AuditContext(user=alice.user), consultation=consultation)
    fresh_frame = "() => { const v = document.getElementById('remote-video'); return v.videoWidth > 0 && !v.paused; }"

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            doctor_ctx = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="pt-BR")
            doctor_ctx.add_cookies([{"name": "sessionid", "value": room_setup["session"], "url": base}])
            doctor = doctor_ctx.new_page()
            doctor.set_default_timeout(30_000)
            doctor.goto(f"{base}/consultations/{consultation.pk}/room/")
            phone = chromium.new_context(**playwright.devices["iPhone 13"], locale="pt-BR").new_page()
            phone.set_default_timeout(30_000)
            phone.goto(f"{base}/p/{room_setup['token']}/room/")
            phone.wait_for_selector("#join:not([disabled])")
            phone.click("#join")
            phone.wait_for_function(fresh_frame)
            doctor.wait_for_selector("#patient-presence[data-state='connected']")

            phone.reload()
            # No pre-call step and no new "Entrar": straight back into the call.
            phone.wait_for_selector("body[data-step='call']")
            phone.wait_for_function(fresh_frame)
            phone.wait_for_selector("body[data-call='connected']")
            doctor.wait_for_function("() => document.body.dataset.call === 'connected'")
            doctor.wait_for_function(fresh_frame)
            doctor.wait_for_selector("#patient-presence[data-state='connected']")
            doctor.wait_for_selector("#consultation-status[data-status='in_progress']")
            precheck_hidden = phone.locator("#step-precheck").is_hidden()
        finally:
            chromium.close()

    assert precheck_hidden
    from audit.models import AuditEvent

    consultation.refresh_from_db()
    assert consultation.status == "in_progress"
    patient_moves = [
        e["to"]
        for e in AuditEvent.objects.filter(action="call.presence", target_id=str(consultation.pk)).order_by("id").values_list("extra", flat=True)
        if e["role"] == "patient"
    ]
    # In, out with the reload, and back in: the doctor saw each step (closing the browser at the
    # end of the test adds a last "left").
    first_in = patient_moves.index("connected")
    out = next(i for i, move in enumerate(patient_moves) if i > first_in and move in ("left", "reconnecting", "waiting"))
    assert "connected" in patient_moves[out + 1 :]
