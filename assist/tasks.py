"""Celery tasks of the assistant. They take ids, are idempotent, have time limits, and are enqueued
on commit by the services' hooks."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="assist.suggestions_refresh", time_limit=60, soft_time_limit=45)
def suggestions_refresh_task(consultation_id: int, segment_id: int | None = None) -> int:
    """Recompute a consultation's suggestions after a final transcript segment; returns how many show."""
    from .services import suggestions_refresh

    return len(suggestions_refresh(consultation_id=consultation_id, segment_id=segment_id))


@shared_task(name="assist.note_draft", time_limit=180, soft_time_limit=150, autoretry_for=(OSError,),
             retry_backoff=True, max_retries=3)
def note_draft_task(consultation_id: int) -> str:
    """Draft the SOAP note of a completed consultation (no-op when it already has one)."""
    from .services import note_draft_generate

    return "drafted" if note_draft_generate(consultation_id=consultation_id) else "exists"
