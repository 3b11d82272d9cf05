"""Writes of the transcription pipeline: queue an utterance (WAV + row), turn it into a segment, and
audit who viewed a transcript. Events go out through `medcall.realtime` after commit."""
from __future__ import annotations

import logging
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from assist.services import suggestions_after_segment, transcription_usage_record
from audit.services import AuditContext, audit_record
from medcall import realtime
from medcall.realtime import TranscriptFinalEvent, TranscriptLagEvent, TranscriptPartialEvent

from .engines import TranscriptionError, get_engine
from .models import TranscriptSegment, Utterance
from .vad import SAMPLE_RATE

log = logging.getLogger(__name__)

Publish = Callable[[str, dict], None]


# --- Event payloads ---------------------------------------------------------------------------------
def partial_event(*, consultation_id: int, utterance: str, speaker: str, start_ms: int, text: str,
                  pending: bool = False) -> TranscriptPartialEvent:
    return {"type": "transcript.partial", "consultation_id": consultation_id, "utterance": utterance,
            "speaker": speaker, "text": text, "start_ms": start_ms, "pending": pending}


def final_event(*, utterance: Utterance, segment: TranscriptSegment | None) -> TranscriptFinalEvent:
    return {
        "type": "transcript.final",
        "consultation_id": utterance.consultation_id,
        "utterance": str(utterance.key),
        "id": segment.pk if segment else None,
        "speaker": utterance.speaker,
        "text": segment.text if segment else "",
        "start_ms": utterance.start_ms,
        "end_ms": utterance.end_ms,
        "created_at": segment.created_at.isoformat() if segment else None,
    }


def lag_event(*, consultation_id: int, lagging: bool, backlog_s: float) -> TranscriptLagEvent:
    return {"type": "transcript.lag", "consultation_id": consultation_id, "lagging": lagging,
            "backlog_s": round(backlog_s, 1)}


# --- Streaming sessions -----------------------------------------------------------------------------
def transcription_stream_opened(*, ctx: AuditContext, consultation, speaker: str) -> None:
    """Audited: audio of this consultation started flowing to the transcriber."""
    with transaction.atomic():
        audit_record(ctx=ctx, action="transcription.started", target=consultation, extra={"speaker": speaker})


def transcription_stream_closed(*, ctx: AuditContext, consultation, speaker: str, utterances: int,
                                seconds: float) -> None:
    with transaction.atomic():
        audit_record(ctx=ctx, action="transcription.stopped", target=consultation,
                     extra={"speaker": speaker, "utterances": utterances, "audio_seconds": round(seconds, 1)})


# --- Utterances -------------------------------------------------------------------------------------
def recording_path(consultation_id: int, key: uuid.UUID) -> Path:
    return Path(settings.RECORDINGS_DIR) / str(int(consultation_id)) / f"{key}.wav"


def _write_wav(path: Path, pcm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".wav.partial")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.astype("<i2").tobytes())
    tmp.replace(path)  # a reader never sees half a file


def read_wav(path: str | Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise TranscriptionError("Utterance WAV is not 16 kHz mono 16-bit.")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def utterance_enqueue(*, consultation_id: int, speaker: str, start_ms: int, end_ms: int, pcm: np.ndarray,
                      key: uuid.UUID | None = None) -> Utterance:
    """Keep an utterance's audio (WAV under RECORDINGS_DIR) and its row before anything transcribes
    it, so a crash or a failing engine loses nothing. The caller dispatches it (pool.dispatch_utterance)."""
    key = key or uuid.uuid4()
    path = recording_path(consultation_id, key)
    _write_wav(path, pcm)
    try:
        return Utterance.objects.create(key=key, consultation_id=consultation_id, speaker=speaker,
                                        start_ms=max(0, start_ms), end_ms=max(0, end_ms), wav_path=str(path))
    except Exception:
        path.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class TranscribeOutcome:
    status: str  # "saved" | "empty" | "failed" | "skipped"
    segment: TranscriptSegment | None = None
    retry: bool = False


def utterance_transcribe(*, utterance_id: int, publish: Publish | None = None) -> TranscribeOutcome:
    """Transcribe one queued (or failed) utterance and save its segment; idempotent.

    The utterance is claimed with a conditional update, so two workers never transcribe it twice.
    On success the segment is saved and audited, and the utterance row and WAV are deleted, in one
    transaction; `transcript.final` is published after commit. On failure the utterance is marked
    failed (shown as pending) and `retry` says whether the caller should try again later.
    """
    publish = publish or realtime.send
    claimable = [Utterance.Status.QUEUED, Utterance.Status.FAILED]
    if not Utterance.objects.filter(pk=utterance_id, status__in=claimable).update(status=Utterance.Status.RUNNING):
        return TranscribeOutcome("skipped")
    utterance = Utterance.objects.get(pk=utterance_id)
    group = realtime.consultation_group(utterance.consultation_id)
    started = time.perf_counter()
    try:
        result = get_engine().transcribe(read_wav(utterance.wav_path))
    except Exception as exc:
        transcription_usage_record(utterance=utterance, started=started, ok=False)  # AI usage (assist/)
        reason = str(exc) if isinstance(exc, TranscriptionError) else type(exc).__name__
        attempts = utterance.attempts + 1
        Utterance.objects.filter(pk=utterance_id).update(
            status=Utterance.Status.FAILED, attempts=attempts, last_error=reason[:300]
        )
        log.warning("utterance %s (consultation %s) failed, attempt %d: %s", utterance.key,
                    utterance.consultation_id, attempts, reason)
        publish(group, partial_event(consultation_id=utterance.consultation_id, utterance=str(utterance.key),
                                     speaker=utterance.speaker, start_ms=utterance.start_ms, text="", pending=True))
        return TranscribeOutcome("failed", retry=attempts < settings.TRANSCRIPTION_MAX_ATTEMPTS)

    segment = None
    with transaction.atomic():
        if result.text:
            segment, created = TranscriptSegment.objects.get_or_create(
                utterance_key=utterance.key,
                defaults=dict(consultation_id=utterance.consultation_id, speaker=utterance.speaker,
                              text=result.text, start_ms=utterance.start_ms, end_ms=utterance.end_ms,
                              language=result.language[:8], engine=result.engine,
                              avg_logprob=result.avg_logprob),
            )
            if created:
                audit_record(
                    ctx=AuditContext.system("transcription"),
                    action="transcript.segment_saved",
                    target=segment.consultation,
                    extra={"segment_id": segment.pk, "speaker": segment.speaker, "engine": segment.engine,
                           "duration_ms": segment.end_ms - segment.start_ms},
                )
        Utterance.objects.filter(pk=utterance_id).delete()
        event = final_event(utterance=utterance, segment=segment)
        wav = Path(utterance.wav_path)
        transaction.on_commit(lambda: wav.unlink(missing_ok=True))
        transaction.on_commit(lambda: publish(group, event))
        transcription_usage_record(utterance=utterance, started=started, engine=result.engine)  # AI usage (assist/)
        if segment is not None:  # follow-up suggestions (assist/), refreshed after commit
            suggestions_after_segment(consultation_id=utterance.consultation_id, segment_id=segment.pk, publish=publish)
    return TranscribeOutcome("saved" if segment else "empty", segment)


def utterances_requeue_stale(*, older_than_s: float, lost_after_s: float = 600,
                             consultation_id: int | None = None) -> list[int]:
    """Failed utterances due for a retry, and queued/running ones a dead worker left behind, back to
    `queued`; returns their ids for dispatch (a duplicate dispatch is harmless: claiming is atomic)."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    base = Utterance.objects.all() if consultation_id is None else Utterance.objects.filter(consultation_id=consultation_id)
    due = base.filter(
        status=Utterance.Status.FAILED,
        attempts__lt=settings.TRANSCRIPTION_MAX_ATTEMPTS,
        updated_at__lt=now - timedelta(seconds=older_than_s),
    )
    # A queued/running utterance this old was lost by a restarted process.
    lost = base.filter(
        status__in=[Utterance.Status.QUEUED, Utterance.Status.RUNNING],
        updated_at__lt=now - timedelta(seconds=lost_after_s),
    )
    ids = list(due.values_list("pk", flat=True)) + list(lost.values_list("pk", flat=True))
    Utterance.objects.filter(pk__in=ids).update(status=Utterance.Status.QUEUED)
    return ids


# --- Reading ----------------------------------------------------------------------------------------
def transcript_record_view(*, ctx: AuditContext, consultation, via: str = "web") -> None:
    """Audited read: someone looked at (or downloaded) a consultation's transcript."""
    with transaction.atomic():
        audit_record(ctx=ctx, action="transcript.viewed", target=consultation, extra={"via": via})
