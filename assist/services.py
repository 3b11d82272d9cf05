"""Writes of the assistant: suggestions (refresh after each final segment, status, on/off), the
consultation note (draft, versions, final) and AI usage rows. Each write to consultation data is
audited in its transaction; live updates go out through `medcall.realtime` after commit."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit.services import AuditContext, audit_record
from consultations.models import Consultation
from medcall import realtime
from medcall.realtime import SuggestionsUpdatedEvent
from transcription.suggestions import Utterance

from .engines import EngineOutput, UsageRecord, suggestion_engine
from .models import AIUsage, AssistPreference, ConsultationNote, NoteVersion, Suggestion
from .pricing import estimate_cost

log = logging.getLogger(__name__)

Publish = Callable[[str, dict], None]
SUGGESTION_LIMIT = 3


# --- AI usage ---------------------------------------------------------------------------------------
def ai_usage_record(*, consultation_id: int | None, kind: str, engine: str, model: str = "", ok: bool = True,
                    audio_seconds: float = 0, tokens_in: int = 0, tokens_out: int = 0,
                    compute_seconds: float = 0) -> AIUsage:
    """One AI call and its estimated cost (AI_PRICES). Holds no health data: counts and times only."""
    doctor_id = clinic_id = None
    if consultation_id:
        row = Consultation.objects.filter(pk=consultation_id).values("doctor_id", "clinic_id").first()
        if row:
            doctor_id, clinic_id = row["doctor_id"], row["clinic_id"]
        else:
            consultation_id = None
    return AIUsage.objects.create(
        consultation_id=consultation_id, doctor_id=doctor_id, clinic_id=clinic_id, kind=kind, engine=engine,
        model=model[:120], ok=ok, audio_seconds=round(audio_seconds, 3), tokens_in=tokens_in, tokens_out=tokens_out,
        compute_seconds=round(compute_seconds, 4),
        cost=estimate_cost(engine=engine, model=model, audio_seconds=audio_seconds, tokens_in=tokens_in,
                           tokens_out=tokens_out),
    )


def _usage_save(consultation_id: int, kind: str, records: Iterable[UsageRecord]) -> None:
    for r in records:
        ai_usage_record(consultation_id=consultation_id, kind=kind, engine=r.engine, model=r.model, ok=r.ok,
                        tokens_in=r.tokens_in, tokens_out=r.tokens_out, compute_seconds=r.compute_seconds)


def transcription_usage_record(*, utterance, started: float, engine: str | None = None, ok: bool = True) -> None:
    """Called by the transcription pipeline after each STT call (`started` = perf_counter() before it).
    Never raises into the pipeline: accounting is not worth losing a transcript over."""
    try:
        name = engine or settings.TRANSCRIPTION_ENGINE
        model = settings.OPENAI_STT_MODEL if name == "openai" else ""
        with transaction.atomic():  # a savepoint: a failed insert must not abort the caller's transaction
            ai_usage_record(consultation_id=utterance.consultation_id, kind=AIUsage.Kind.TRANSCRIPTION, engine=name,
                            model=model, ok=ok, audio_seconds=max(0, utterance.end_ms - utterance.start_ms) / 1000,
                            compute_seconds=time.perf_counter() - started)
    except Exception:
        log.warning("AI usage of utterance %s not recorded", utterance.pk, exc_info=True)


# --- Suggestions ------------------------------------------------------------------------------------
def suggestion_payload(s: Suggestion) -> dict:
    return {"id": s.pk, "key": s.key, "text": s.text, "text_en": s.text_en, "reason": s.reason,
            "reason_en": s.reason_en, "topic": s.topic, "red_flag": s.red_flag, "status": s.status, "source": s.source}


def suggestions_event(*, consultation_id: int, enabled: bool, suggestions: Iterable[Suggestion],
                      segment_id: int | None = None) -> SuggestionsUpdatedEvent:
    return {"type": "suggestions.updated", "consultation_id": consultation_id, "enabled": enabled,
            "suggestions": [suggestion_payload(s) for s in suggestions], "segment_id": segment_id,
            "sent_at": timezone.now().isoformat()}


def _utterances(consultation_id: int) -> list[Utterance]:
    from transcription.models import TranscriptSegment

    rows = TranscriptSegment.objects.filter(consultation_id=consultation_id).order_by("start_ms", "id")
    return [Utterance(speaker, text) for speaker, text in rows.values_list("speaker", "text")]


def _preference_locked(consultation_id: int) -> AssistPreference:
    """The consultation's preference row, locked: call first inside `transaction.atomic()`.

    A no-op UPDATE is the first statement on purpose: on Postgres it takes the row lock (two refreshes
    of one consultation run one after the other); on SQLite it takes the write lock at once, waiting
    on the busy timeout, instead of reading first and failing with "database is locked" when the
    read snapshot cannot be upgraded because the STT pool or the server wrote in between.
    """
    if not AssistPreference.objects.filter(consultation_id=consultation_id).update(
        suggestions_enabled=F("suggestions_enabled")
    ):
        AssistPreference.objects.get_or_create(consultation_id=consultation_id)
    return AssistPreference.objects.get(consultation_id=consultation_id)


def suggestions_after_segment(*, consultation_id: int, segment_id: int | None = None,
                              publish: Publish | None = None) -> None:
    """Hook for the transcription pipeline, called inside the transaction that saved a final segment:
    after commit, refresh the suggestions. With a real Celery broker the refresh is a task (an LLM
    call never holds an STT worker); otherwise it runs here, in the STT pool thread, and its event
    goes out through the pool's `publish` (the in-memory channel layer lives on the server's loop)."""
    def run():
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            from .tasks import suggestions_refresh_task

            suggestions_refresh_task.delay(consultation_id, segment_id)
            return
        try:
            suggestions_refresh(consultation_id=consultation_id, segment_id=segment_id, publish=publish)
        except Exception:
            log.exception("suggestions refresh of consultation %s failed", consultation_id)

    transaction.on_commit(run)


def suggestions_refresh(*, consultation_id: int, segment_id: int | None = None,
                        publish: Publish | None = None) -> list[Suggestion]:
    """Recompute the consultation's suggestions from its transcript; idempotent.

    Shown questions the conversation has since covered become `asked` (by nobody: said aloud);
    asked and dismissed ones are never proposed again; the engine's top three (red flags first)
    become the visible list, one row per question key. The engine runs outside the transaction
    (an LLM call must not hold a row lock). Publishes `suggestions.updated` after commit.
    """
    publish = publish or realtime.send
    if not Consultation.objects.filter(pk=consultation_id).exists():
        return []
    from .selectors import suggestions_enabled

    output: EngineOutput | None = None
    utterances = _utterances(consultation_id)
    if suggestions_enabled(consultation_id=consultation_id):
        closed = Suggestion.objects.filter(consultation_id=consultation_id).exclude(status=Suggestion.Status.SHOWN)
        exclude_keys = set(closed.values_list("key", flat=True))
        exclude_texts = set(closed.values_list("text", flat=True))
        output = suggestion_engine().suggest(utterances, exclude_keys=exclude_keys, exclude_texts=exclude_texts,
                                             limit=SUGGESTION_LIMIT)
    covered = _covered_keys(utterances)

    now = timezone.now()
    with transaction.atomic():
        pref = _preference_locked(consultation_id)
        shown = {s.key: s for s in Suggestion.objects.filter(consultation_id=consultation_id,
                                                             status=Suggestion.Status.SHOWN)}
        for key in covered & shown.keys():
            shown[key].status = Suggestion.Status.ASKED
            shown[key].status_changed_at = now
            shown[key].active = False
            shown[key].save(update_fields=["status", "status_changed_at", "active"])
        visible: list[Suggestion] = []
        created = 0
        if pref.suggestions_enabled and output is not None:
            for rank, c in enumerate(output.value):
                if c.key in covered:
                    continue
                row, was_created = _suggestion_upsert(consultation_id, c, output.source, rank)
                if row.status == Suggestion.Status.SHOWN:
                    visible.append(row)
                created += was_created
            _usage_save(consultation_id, AIUsage.Kind.SUGGESTIONS, output.usage)
        visible_ids = [s.pk for s in visible]
        Suggestion.objects.filter(consultation_id=consultation_id, status=Suggestion.Status.SHOWN,
                                  active=True).exclude(pk__in=visible_ids).update(active=False)
        if created:
            audit_record(ctx=AuditContext.system("assist"), action="suggestions.shown",
                         target=Consultation.objects.only("id", "clinic_id").get(pk=consultation_id),
                         extra={"count": created, "source": output.source if output else ""})
        event = suggestions_event(consultation_id=consultation_id, enabled=pref.suggestions_enabled,
                                  suggestions=visible, segment_id=segment_id)
        group = realtime.consultation_group(consultation_id)
        transaction.on_commit(lambda: publish(group, event))
    return visible


def _covered_keys(utterances: list[Utterance]) -> set[str]:
    from .engines.local import shared_local_engine

    return shared_local_engine().covered_keys(utterances)


def _suggestion_upsert(consultation_id: int, c, source: str, rank: int) -> tuple[Suggestion, bool]:
    values = dict(text=c.text[:500], text_en=c.text_en[:500], reason=c.reason[:500], reason_en=c.reason_en[:500],
                  topic=c.topic[:32], complaint=c.complaint[:64], red_flag=c.red_flag, source=source[:120])
    try:
        with transaction.atomic():
            row, created = Suggestion.objects.get_or_create(consultation_id=consultation_id, key=c.key,
                                                            defaults={**values, "rank": rank, "active": True})
    except IntegrityError:  # a concurrent refresh (SQLite has no row lock) created it first
        row, created = Suggestion.objects.get(consultation_id=consultation_id, key=c.key), False
    if not created and row.status == Suggestion.Status.SHOWN and (row.rank != rank or not row.active):
        row.rank, row.active = rank, True
        row.save(update_fields=["rank", "active"])
    return row, created


def suggestion_set_status(*, ctx: AuditContext, suggestion: Suggestion, status: str,
                          publish: Publish | None = None) -> Suggestion:
    """The doctor marks a suggestion asked ("perguntei") or dismissed ("dispensar"); audited. Either way
    the question counts as covered and the list is refreshed so the next one moves up."""
    if status not in (Suggestion.Status.ASKED, Suggestion.Status.DISMISSED):
        raise ValidationError({"status": [_("Use “asked” or “dismissed”.")]})
    with transaction.atomic():
        locked = Suggestion.objects.select_for_update().get(pk=suggestion.pk)
        previous = locked.status
        if previous != status:
            locked.status = status
            locked.active = False
            locked.status_changed_at = timezone.now()
            locked.status_changed_by = ctx.user if getattr(ctx.user, "is_authenticated", False) else None
            locked.save(update_fields=["status", "active", "status_changed_at", "status_changed_by"])
            audit_record(ctx=ctx, action=f"suggestion.{status}", target=locked.consultation,
                         extra={"suggestion_id": locked.pk, "from": previous, "red_flag": locked.red_flag})
    suggestions_refresh(consultation_id=locked.consultation_id, publish=publish)
    locked.refresh_from_db()
    return locked


def suggestions_toggle(*, ctx: AuditContext, consultation: Consultation, enabled: bool,
                       publish: Publish | None = None) -> AssistPreference:
    """Turn suggestions on or off for one consultation; audited. Off hides the list at once and stops
    the engine for this consultation; on recomputes it from the transcript so far."""
    with transaction.atomic():
        pref = _preference_locked(consultation.pk)
        if pref.suggestions_enabled != enabled:
            pref.suggestions_enabled = enabled
            pref.save(update_fields=["suggestions_enabled", "updated_at"])
            audit_record(ctx=ctx, action="suggestions.enabled" if enabled else "suggestions.disabled",
                         target=consultation, extra={})
    suggestions_refresh(consultation_id=consultation.pk, publish=publish)
    return pref


# --- Consultation note ------------------------------------------------------------------------------
class NoteIsFinal(Exception):
    """The note was marked final: it can be read and exported, not changed. Message is user-facing."""


def note_draft_after_completion(*, consultation_id: int) -> None:
    """Hook for `consultation_transition`: once the consultation is completed (after commit), draft the
    note in a task (a worker with a real broker; inline when eager)."""
    def run():
        try:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                note_draft_generate(consultation_id=consultation_id)
            else:
                from .tasks import note_draft_task

                note_draft_task.delay(consultation_id)
        except Exception:
            log.exception("note draft of consultation %s failed or could not be started", consultation_id)

    transaction.on_commit(run)


def note_draft_generate(*, consultation_id: int) -> ConsultationNote | None:
    """Draft the SOAP note from the transcript (LLM when configured, else extractive); idempotent: a
    consultation that already has a note keeps it. Audited as `note.drafted` (version 1)."""
    if ConsultationNote.objects.filter(consultation_id=consultation_id).exists():
        return None
    if not Consultation.objects.filter(pk=consultation_id).exists():
        return None
    utterances = _utterances(consultation_id)
    with translation.override(settings.LANGUAGE_CODE):
        engine = suggestion_engine()
        output = engine.note_draft(utterances)
    sections = output.value
    try:
        with transaction.atomic():
            note = ConsultationNote.objects.create(consultation_id=consultation_id, source=output.source[:120],
                                                   **sections)
            NoteVersion.objects.create(note=note, number=1, status=note.status, source=note.source, **sections)
            _usage_save(consultation_id, AIUsage.Kind.NOTE, output.usage)
            audit_record(ctx=AuditContext.system("assist"), action="note.drafted", target=note.consultation,
                         extra={"version": 1, "source": note.source, "segments": len(utterances)})
    except IntegrityError:  # drafted concurrently by another worker
        return None
    return note


def note_save(*, ctx: AuditContext, consultation: Consultation, subjective: str, objective: str, assessment: str,
              plan: str, final: bool = False) -> ConsultationNote:
    """Save the doctor's edit as a new version (and optionally mark the note final); audited as
    `note.updated` / `note.finalized`. A final note refuses changes (NoteIsFinal)."""
    sections = {"subjective": subjective or "", "objective": objective or "", "assessment": assessment or "",
                "plan": plan or ""}
    user = ctx.user if getattr(ctx.user, "is_authenticated", False) else None
    with transaction.atomic():
        note = ConsultationNote.objects.select_for_update().filter(consultation=consultation).first()
        if note is None:
            note = ConsultationNote.objects.create(consultation=consultation, source="doctor", version=0)
        if note.is_final:
            raise NoteIsFinal(_("This note is final and can no longer be changed. Export it, or add what is "
                                "missing in a new consultation."))
        changed = [k for k, v in sections.items() if getattr(note, k) != v]
        if not changed and not final and note.version > 0:
            return note
        for k, v in sections.items():
            setattr(note, k, v)
        note.version += 1
        if final:
            note.status = ConsultationNote.Status.FINAL
            note.finalized_at = timezone.now()
            note.finalized_by = user
        note.save()
        NoteVersion.objects.create(note=note, number=note.version, status=note.status, source="doctor", author=user,
                                   **sections)
        audit_record(ctx=ctx, action="note.finalized" if final else "note.updated", target=consultation,
                     extra={"version": note.version, "fields": changed})
    return note


def note_record_view(*, ctx: AuditContext, consultation: Consultation, via: str = "web") -> None:
    """Audited read of the consultation note (page, API, export)."""
    with transaction.atomic():
        audit_record(ctx=ctx, action="note.viewed", target=consultation, extra={"via": via})
