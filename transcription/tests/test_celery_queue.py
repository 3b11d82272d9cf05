"""Production path: with REDIS_URL and TRANSCRIPTION_QUEUE=celery an utterance goes to the Celery `stt`
queue, a real worker process transcribes it with its own copy of the model, saves the segment and
publishes transcript.final through the Redis channel layer. (Needs REDIS_URL: the fixture skips on
SQLite-only runs, as for every real-worker test.)"""
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from transcription import services
from transcription.models import TranscriptSegment, Utterance
from transcription.pool import dispatch_utterance

from . import speech

pytestmark = pytest.mark.timeout(240)


def test_it_transcribes_on_a_celery_stt_worker(celery_worker_process, celery_worker_queues, consultation, settings,
                                               tmp_path, pt_speech, whisper_models):
    assert "stt" in celery_worker_queues
    settings.TRANSCRIPTION_QUEUE = "celery"
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"consultation.{consultation.pk}", channel)

    utterance = services.utterance_enqueue(consultation_id=consultation.pk, speaker="patient", start_ms=0,
                                           end_ms=3000, pcm=speech.read_pcm(pt_speech["pressao"][0]))
    dispatch_utterance(utterance.pk)

    deadline = time.monotonic() + 180
    while not TranscriptSegment.objects.filter(utterance_key=utterance.key).exists():
        assert time.monotonic() < deadline, celery_worker_process.log_path.read_text()[-3000:]
        time.sleep(0.25)
    segment = TranscriptSegment.objects.get(utterance_key=utterance.key)
    assert segment.speaker == "patient" and segment.engine == "faster_whisper"
    assert speech.recognised(["pressao", "arterial", "cabeca"], segment.text), segment.text
    assert not Utterance.objects.filter(pk=utterance.pk).exists()

    event = async_to_sync(layer.receive)(channel)
    assert event["type"] == "transcript.final" and event["id"] == segment.pk and event["text"] == segment.text
