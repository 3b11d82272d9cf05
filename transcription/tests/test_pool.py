"""In-process pool: finished utterances first; previews only on idle capacity and never after their
utterance was cut."""
import time

import pytest

from transcription import services
from transcription.models import TranscriptSegment
from transcription.pool import TranscriptionPool

from . import speech
from .doubles import OpenAISTTDouble

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.fixture
def slow_engine(settings):
    with OpenAISTTDouble(text="Tenho febre.", delay=1.0) as double:
        settings.TRANSCRIPTION_ENGINE = "openai"
        settings.OPENAI_STT_BASE_URL = double.base_url
        settings.OPENAI_STT_API_KEY = "sk-test"
        settings.OPENAI_STT_RETRIES = 0
        yield double


def _wait(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_it_skips_previews_while_a_finished_utterance_is_transcribed(consultation, recordings_dir, slow_engine):
    pool = TranscriptionPool(workers=1)
    try:
        utterance = services.utterance_enqueue(consultation_id=consultation.pk, speaker="doctor", start_ms=0,
                                               end_ms=500, pcm=speech.silence(0.5))
        pool.submit_final(utterance.pk)
        _wait(lambda: len(slow_engine.requests) == 1)  # the final is being transcribed
        skipped = pool.submit_partial(stream="s1", consultation_id=consultation.pk, utterance="u1", speaker="doctor",
                                      start_ms=0, pcm=speech.silence(2.0))
        assert skipped is False
        _wait(lambda: TranscriptSegment.objects.filter(utterance_key=utterance.key).exists())
        _wait(pool.idle)
        assert len(slow_engine.requests) == 1  # no preview ran
    finally:
        pool.shutdown()


def test_it_drops_a_preview_of_an_utterance_already_cut(consultation, slow_engine):
    pool = TranscriptionPool(workers=1)
    try:
        pool.utterance_cut("u2")
        assert pool.submit_partial(stream="s2", consultation_id=consultation.pk, utterance="u2", speaker="doctor",
                                   start_ms=0, pcm=speech.silence(2.0))
        _wait(pool.idle)
        time.sleep(0.2)
        assert slow_engine.requests == []  # thrown away before reaching the engine
    finally:
        pool.shutdown()


def test_it_runs_a_preview_when_idle(consultation, slow_engine):
    pool = TranscriptionPool(workers=1)
    try:
        assert pool.submit_partial(stream="s3", consultation_id=consultation.pk, utterance="u3", speaker="doctor",
                                   start_ms=0, pcm=speech.silence(2.0))
        _wait(lambda: len(slow_engine.requests) == 1)
    finally:
        pool.shutdown()
