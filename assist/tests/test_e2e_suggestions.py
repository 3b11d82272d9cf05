"""End to end through a real Daphne (subprocess, embedded mode): Portuguese test speech about a headache
with fever is streamed to the audio socket at real-time pace as the patient's track; Whisper transcribes
it, the suggestion engine runs after the final segment, and the doctor's page — its events socket and
the suggestions fragment it renders — shows a red-flag question about neck stiffness."""
import json
import time
from datetime import timedelta

import httpx
import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from transcription.tests import speech
from transcription.tests.conftest import speech_dir, whisper_models  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.timeout(300)]

SENTENCE = "Doutor, estou com dor de cabeça muito forte e febre alta desde ontem."
FRAME_MS = 20


@pytest.fixture
def doctor_session(request, live_daphne, alice, patient, ctx_system, whisper_models):  # noqa: F811
    from django.conf import settings

    if settings.REDIS_URL:
        # Production path: the refresh is a Celery task after the segment commits, so run a real worker.
        request.getfixturevalue("celery_worker_process")
    from consultations.models import ConsentRecord
    from consultations.services import consultation_create

    consultation = consultation_create(ctx=ctx_system, doctor=alice, patient=patient,
                                       scheduled_for=timezone.now() + timedelta(minutes=5))
    ConsentRecord.objects.create(consultation=consultation, teleconsultation=True, transcription=True,
                                 text_version="test-1", channel=ConsentRecord.Channel.PATIENT_LINK)
    client = Client()
    client.force_login(alice.user)
    return {"base": live_daphne, "consultation": consultation, "cookie": f"sessionid={client.cookies['sessionid'].value}"}


def test_it_shows_a_red_flag_suggestion_for_spoken_headache_with_fever(doctor_session, speech_dir):  # noqa: F811
    from websockets.sync.client import connect

    base, consultation, cookie = doctor_session["base"], doctor_session["consultation"], doctor_session["cookie"]
    ws_base = base.replace("http://", "ws://")
    headers = {"Cookie": cookie, "Origin": base}
    pcm = np.concatenate([speech.silence(0.5), speech.read_pcm(speech.portuguese_wav(SENTENCE, speech_dir)),
                          speech.silence(1.5)])

    with connect(f"{ws_base}/ws/consultations/{consultation.pk}/events/", additional_headers=headers) as events, \
            connect(f"{ws_base}/ws/consultations/{consultation.pk}/audio/?speaker=patient",
                    additional_headers=headers) as audio:
        assert json.loads(audio.recv(timeout=10))["type"] == "ready"
        step = 16 * FRAME_MS
        start = time.monotonic()
        for n, i in enumerate(range(0, len(pcm), step)):
            audio.send(pcm[i:i + step].astype("<i2").tobytes())
            time.sleep(max(0.0, start + (n + 1) * FRAME_MS / 1000 - time.monotonic()))

        seen, suggestions = [], None
        deadline = time.monotonic() + 150
        while suggestions is None and time.monotonic() < deadline:
            event = json.loads(events.recv(timeout=max(1, deadline - time.monotonic())))
            seen.append(event["type"])
            if event["type"] == "suggestions.updated" and event["suggestions"]:
                suggestions = event["suggestions"]
        audio.send(json.dumps({"type": "stop"}))

    assert suggestions, seen
    assert "transcript.final" in seen and seen.index("transcript.final") < seen.index("suggestions.updated")
    assert suggestions[0]["red_flag"], suggestions
    neck = [s for s in suggestions if s["key"] == "cefaleia.rigidez_nuca"]
    assert neck, [s["key"] for s in suggestions]

    # What the doctor's page renders when the event arrives (static/js/assist/suggestions.js refetches it).
    page = httpx.get(f"{base}/consultations/{consultation.pk}/assist/suggestions/", headers={"Cookie": cookie})
    assert page.status_code == 200 and neck[0]["text"] in page.text and "Perguntei" in page.text
