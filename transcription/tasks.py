"""Celery tasks of the transcription pipeline (the `stt` queue). Tasks take ids, are idempotent
(the utterance is claimed with a conditional update) and have time limits."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="transcription.transcribe_utterance", time_limit=300, soft_time_limit=240, acks_late=True)
def transcribe_utterance(utterance_id: int) -> str:
    """Transcribe one utterance in a worker (model loaded once per worker process)."""
    from .services import utterance_transcribe

    outcome = utterance_transcribe(utterance_id=utterance_id)
    if outcome.retry and not settings.CELERY_TASK_ALWAYS_EAGER:
        retry_utterance.apply_async(args=(utterance_id,), countdown=settings.TRANSCRIPTION_RETRY_DELAY_S)
    return outcome.status


@shared_task(name="transcription.retry_utterance", time_limit=300, soft_time_limit=240)
def retry_utterance(utterance_id: int) -> str:
    """Send a failed utterance back to the transcriber (it is claimed again, so a duplicate is harmless)."""
    from .pool import dispatch_utterance

    dispatch_utterance(utterance_id)
    return "dispatched"


@shared_task(name="transcription.retry_failed", time_limit=60, soft_time_limit=50)
def retry_failed() -> int:
    """Periodic sweep (beat / runtunnels supervisor): failed utterances due for a retry, and any a
    restarted process left queued, go back to the transcriber."""
    from .pool import dispatch_utterance
    from .services import utterances_requeue_stale

    ids = utterances_requeue_stale(older_than_s=settings.TRANSCRIPTION_RETRY_DELAY_S)
    for utterance_id in ids:
        dispatch_utterance(utterance_id)
    return len(ids)
