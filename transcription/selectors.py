"""Transcript reads, scoped to the acting doctor's clinic (others: 404)."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from consultations.models import Consultation
from consultations.selectors import consultation_get, consultation_list

from .models import TranscriptSegment, Utterance


def transcript_segments(*, consultation: Consultation) -> QuerySet[TranscriptSegment]:
    return TranscriptSegment.objects.filter(consultation=consultation).order_by("start_ms", "id")


def transcript_pending(*, consultation: Consultation) -> QuerySet[Utterance]:
    return Utterance.objects.filter(consultation=consultation).order_by("start_ms", "id")


def transcript_get(*, user, consultation_id) -> tuple[Consultation, QuerySet[TranscriptSegment]]:
    """The consultation (404 outside the user's clinic) and its saved segments."""
    consultation = consultation_get(user=user, pk=consultation_id)
    return consultation, transcript_segments(consultation=consultation)


def audio_consultation_for(*, user, consultation_id: int) -> Consultation | None:
    """The consultation if `user` is its doctor (only the consultation's own doctor streams audio)."""
    return (
        consultation_list(user=user)
        .filter(pk=consultation_id, doctor__user_id=getattr(user, "pk", None))
        .first()
    )


def utterance_backlog_s(*, consultation_id: int) -> float:
    """Age in seconds of the oldest utterance of this consultation still waiting for its text."""
    oldest = (
        Utterance.objects.filter(
            consultation_id=consultation_id, status__in=[Utterance.Status.QUEUED, Utterance.Status.RUNNING]
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return (timezone.now() - oldest).total_seconds() if oldest else 0.0


def transcript_as_text(*, consultation: Consultation) -> str:
    """Plain-text transcript: one line per segment, `[mm:ss] Speaker: text`."""
    from .models import Speaker

    labels = dict(Speaker.choices)
    lines = []
    for seg in transcript_segments(consultation=consultation):
        total = seg.start_ms // 1000
        lines.append(f"[{total // 60:02d}:{total % 60:02d}] {labels.get(seg.speaker, seg.speaker)}: {seg.text}")
    return "\n".join(lines) + ("\n" if lines else "")
