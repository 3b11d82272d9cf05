"""Services: an utterance is kept (WAV + row) until its segment is saved; failures stay pending and
are retried; saving is audited and idempotent."""
import uuid
from pathlib import Path

import numpy as np
import pytest

from audit.models import AuditEvent
from transcription import services
from transcription.models import TranscriptSegment, Utterance
from transcription.tasks import retry_failed

from . import speech
from .doubles import OpenAISTTDouble


@pytest.fixture
def openai_engine(settings):
    def use(double):
        settings.TRANSCRIPTION_ENGINE = "openai"
        settings.OPENAI_STT_BASE_URL = double.base_url
        settings.OPENAI_STT_API_KEY = "sk-test"
        settings.OPENAI_STT_RETRIES = 0
    return use


def _enqueue(consultation, pcm=None, speaker="patient"):
    return services.utterance_enqueue(consultation_id=consultation.pk, speaker=speaker, start_ms=1200, end_ms=4200,
                                      pcm=speech.silence(0.5) if pcm is None else pcm)


@pytest.mark.django_db
def test_it_keeps_the_utterance_audio_until_the_segment_is_saved(
    consultation, recordings_dir, whisper_engine, pt_speech, django_capture_on_commit_callbacks
):
    pcm = speech.read_pcm(pt_speech["barriga"][0])
    utterance = _enqueue(consultation, pcm)
    wav = Path(utterance.wav_path)
    assert wav.parent == recordings_dir / str(consultation.pk)
    assert np.array_equal(services.read_wav(wav), pcm)

    events = []
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: events.append((g, e)))

    assert outcome.status == "saved"
    segment = TranscriptSegment.objects.get(consultation=consultation)
    assert segment.utterance_key == utterance.key
    assert segment.speaker == "patient" and (segment.start_ms, segment.end_ms) == (1200, 4200)
    assert segment.engine == "faster_whisper" and segment.language == "pt" and segment.avg_logprob < 0
    assert len(speech.recognised(["barriga", "piora", "refeicoes"], segment.text)) >= 2, segment.text
    assert not Utterance.objects.exists() and not wav.exists()
    audit = AuditEvent.objects.get(action="transcript.segment_saved")
    assert audit.target_id == str(consultation.pk) and audit.extra["segment_id"] == segment.pk
    assert segment.text not in str(audit.extra)  # never the words themselves
    # The assistant's suggestions.updated (assist/) follows on the same group; this test is about the transcript.
    ((group, event),) = [(g, e) for g, e in events if e["type"].startswith("transcript.")]
    assert group == f"consultation.{consultation.pk}"
    assert event["type"] == "transcript.final" and event["id"] == segment.pk and event["text"] == segment.text
    assert event["utterance"] == str(utterance.key) and event["speaker"] == "patient"


@pytest.mark.django_db
def test_it_marks_a_failed_utterance_pending_and_keeps_its_audio(consultation, recordings_dir, settings):
    utterance = _enqueue(consultation)
    # A WAV that is not 16 kHz mono: the engine cannot take it.
    speech.write_pcm(Path(utterance.wav_path), speech.silence(0.2))
    import wave

    with wave.open(utterance.wav_path, "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0" * 800)

    events = []
    outcome = services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: events.append(e))

    assert outcome.status == "failed" and outcome.retry
    utterance.refresh_from_db()
    assert utterance.status == Utterance.Status.FAILED and utterance.attempts == 1
    assert "16 kHz" in utterance.last_error
    assert Path(utterance.wav_path).exists()
    assert not TranscriptSegment.objects.exists()
    assert events == [services.partial_event(consultation_id=consultation.pk, utterance=str(utterance.key),
                                             speaker="patient", start_ms=1200, text="", pending=True)]

    settings.TRANSCRIPTION_MAX_ATTEMPTS = 2
    assert services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: None).retry is False
    utterance.refresh_from_db()
    assert utterance.status == Utterance.Status.FAILED and utterance.attempts == 2  # kept, never discarded


@pytest.mark.django_db
def test_it_does_not_transcribe_an_utterance_twice(consultation, recordings_dir, openai_engine):
    utterance = _enqueue(consultation)
    with OpenAISTTDouble(text="Tenho febre.") as double:
        openai_engine(double)
        first = services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: None)
        second = services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: None)
    assert (first.status, second.status) == ("saved", "skipped")
    assert TranscriptSegment.objects.filter(consultation=consultation).count() == 1
    assert len(double.requests) == 1


@pytest.mark.django_db
def test_it_drops_the_preview_when_the_utterance_had_no_words(
    consultation, recordings_dir, openai_engine, django_capture_on_commit_callbacks
):
    utterance = _enqueue(consultation)
    events = []
    with OpenAISTTDouble(text="") as double:
        openai_engine(double)
        with django_capture_on_commit_callbacks(execute=True):
            outcome = services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: events.append(e))
    assert outcome.status == "empty"
    assert not TranscriptSegment.objects.exists() and not Utterance.objects.exists()
    (final,) = [e for e in events if e["type"].startswith("transcript.")]
    assert final["type"] == "transcript.final" and final["id"] is None


@pytest.mark.django_db(transaction=True)
def test_it_retries_failed_utterances_from_the_periodic_task(consultation, recordings_dir, openai_engine, settings):
    import time

    utterance = _enqueue(consultation)
    with OpenAISTTDouble(statuses=[503]) as double:
        openai_engine(double)
        assert services.utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: None).status == "failed"
        settings.TRANSCRIPTION_RETRY_DELAY_S = 0
        assert retry_failed.apply().get() == 1  # the Celery task body, as beat runs it
        deadline = time.monotonic() + 30
        while not TranscriptSegment.objects.filter(utterance_key=utterance.key).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    segment = TranscriptSegment.objects.get(utterance_key=utterance.key)
    assert segment.text == "Tenho febre." and segment.engine == "openai"
    assert not Utterance.objects.filter(pk=utterance.pk).exists()
    assert len(double.requests) == 2


@pytest.mark.django_db
def test_it_requeues_utterances_a_dead_worker_left_running(consultation, recordings_dir):
    from datetime import timedelta

    from django.utils import timezone

    stale, fresh = _enqueue(consultation), _enqueue(consultation)
    Utterance.objects.filter(pk=stale.pk).update(status=Utterance.Status.RUNNING,
                                                 updated_at=timezone.now() - timedelta(minutes=30))
    Utterance.objects.filter(pk=fresh.pk).update(status=Utterance.Status.RUNNING)
    assert services.utterances_requeue_stale(older_than_s=30) == [stale.pk]
    stale.refresh_from_db()
    assert stale.status == Utterance.Status.QUEUED


@pytest.mark.django_db
def test_it_audits_transcript_views(consultation, ctx_alice):
    services.transcript_record_view(ctx=ctx_alice, consultation=consultation, via="api")
    event = AuditEvent.objects.get(action="transcript.viewed")
    assert event.actor == ctx_alice.user and event.target_id == str(consultation.pk) and event.extra == {"via": "api"}


def test_it_names_recordings_by_consultation_and_key(settings, tmp_path):
    settings.RECORDINGS_DIR = tmp_path
    key = uuid.uuid4()
    assert services.recording_path(7, key) == tmp_path / "7" / f"{key}.wav"
