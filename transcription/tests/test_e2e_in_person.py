"""End to end in headless Chromium against a real Daphne: the fake microphone plays a generated
Portuguese WAV, the in-person page captures it through the AudioWorklet, and the transcript line
appears in the panel, labelled with the speaker chosen on the toggle."""
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from . import speech

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--no-proxy-server", "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def fake_mic_wav(pt_speech, tmp_path):
    pcm = np.concatenate([speech.silence(1.0), speech.read_pcm(pt_speech["febre"][0]), speech.silence(2.5)])
    return speech.write_pcm(tmp_path / "mic.wav", pcm).resolve()


@pytest.fixture
def in_person(live_daphne, alice, patient, ctx_system, whisper_models):
    from consultations.models import ConsentRecord, Consultation
    from consultations.services import consultation_create

    consultation = consultation_create(ctx=ctx_system, doctor=alice, patient=patient, type=Consultation.Type.IN_PERSON,
                                       scheduled_for=timezone.now() + timedelta(minutes=5))
    ConsentRecord.objects.create(consultation=consultation, teleconsultation=False, transcription=True,
                                 text_version="test-1", channel=ConsentRecord.Channel.DOCTOR, recorded_by=alice.user)
    client = Client()
    client.force_login(alice.user)
    return {"base": live_daphne, "consultation": consultation, "session": client.cookies["sessionid"].value}


def test_it_shows_the_spoken_sentence_in_the_panel(in_person, fake_mic_wav):
    from playwright.sync_api import sync_playwright

    from transcription.models import TranscriptSegment

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, consultation = in_person["base"], in_person["consultation"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={fake_mic_wav}"],
        )
        try:
            context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
            context.add_cookies([{"name": "sessionid", "value": in_person["session"], "url": base}])
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/consultations/{consultation.pk}/in-person/")
            page.check("input[name=speaker][value=patient]")
            page.click("#capture-start")
            page.wait_for_selector("#capture-status[data-state='on']")
            assert page.locator("#capture-status").inner_text() == "Transcrição ativa"
            line = page.wait_for_selector(".transcript-line.speaker-patient[data-segment]", timeout=150_000)
            text = line.inner_text()
            page.screenshot(path=str(ARTIFACTS / "transcription-in-person.png"))
            assert "Paciente:" in text
            assert len(speech.recognised(["febre", "tosse", "seca", "segunda"], text)) >= 2, text
            page.click("#capture-stop")
            page.wait_for_selector("#capture-status[data-state='stopped']")
        finally:
            chromium.close()
    segment = TranscriptSegment.objects.filter(consultation=consultation).first()
    assert segment is not None and segment.speaker == "patient"
