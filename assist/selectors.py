"""Reads of the assistant, scoped to the acting doctor's clinic (anything else: 404)."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.shortcuts import get_object_or_404
from django.utils import timezone

from consultations.models import Consultation
from consultations.selectors import consultation_get
from patients.selectors import clinic_for_user

from .models import AIUsage, AssistPreference, ConsultationNote, NoteVersion, Suggestion


def suggestions_enabled(*, consultation_id: int) -> bool:
    pref = AssistPreference.objects.filter(consultation_id=consultation_id).only("suggestions_enabled").first()
    return pref.suggestions_enabled if pref else True


def suggestions_visible(*, consultation: Consultation) -> QuerySet[Suggestion]:
    """What the doctor sees now: at most three open questions, red flags first."""
    return Suggestion.objects.filter(consultation=consultation, status=Suggestion.Status.SHOWN, active=True).order_by(
        "rank", "id"
    )


def suggestions_all(*, consultation: Consultation) -> QuerySet[Suggestion]:
    return Suggestion.objects.filter(consultation=consultation).order_by("created_at", "id")


def suggestion_get(*, user, consultation_id: int, suggestion_id: int) -> tuple[Consultation, Suggestion]:
    consultation = consultation_get(user=user, pk=consultation_id)
    return consultation, get_object_or_404(Suggestion, pk=suggestion_id, consultation=consultation)


def note_for(*, consultation: Consultation) -> ConsultationNote | None:
    return ConsultationNote.objects.filter(consultation=consultation).first()


def note_versions(*, note: ConsultationNote) -> QuerySet[NoteVersion]:
    return note.versions.select_related("author").order_by("-number")


# --- AI usage ---------------------------------------------------------------------------------------
PERIODS = ("day", "month")


def period_start(period: str, now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=1) if period == "month" else start


def _totals(qs) -> dict:
    agg = qs.aggregate(calls=Count("id"), audio_seconds=Sum("audio_seconds"), tokens_in=Sum("tokens_in"),
                       tokens_out=Sum("tokens_out"), compute_seconds=Sum("compute_seconds"), cost=Sum("cost"))
    return {k: (v or 0) for k, v in agg.items()}


def ai_usage_summary(*, user, period: str = "month", now: datetime | None = None) -> dict:
    """The clinic's AI usage since the start of the current day or month: totals, per engine, per doctor."""
    clinic = clinic_for_user(user)
    start = period_start(period, now)
    qs = AIUsage.objects.filter(clinic=clinic, created_at__gte=start) if clinic else AIUsage.objects.none()
    by_engine = [
        {"kind": row["kind"], "engine": row["engine"], **_totals(qs.filter(kind=row["kind"], engine=row["engine"]))}
        for row in qs.values("kind", "engine").distinct().order_by("kind", "engine")
    ]
    by_doctor = []
    for row in qs.values("doctor_id").distinct().order_by("doctor_id"):
        doctor_qs = qs.filter(doctor_id=row["doctor_id"])
        first = doctor_qs.select_related("doctor__user").first()
        name = first.doctor.user.get_full_name() or first.doctor.user.username if first and first.doctor else ""
        by_doctor.append({"doctor_id": row["doctor_id"], "doctor": name, **_totals(doctor_qs)})
    return {"period": period, "since": start, "totals": _totals(qs), "by_engine": by_engine, "by_doctor": by_doctor}


def ai_usage_series(*, qs=None, period: str = "day", buckets: int = 30, now: datetime | None = None) -> list[dict]:
    """Cost and call counts per day (last `buckets` days) or per month (last `buckets` months), oldest
    first, with empty buckets filled in: the admin chart's data."""
    qs = AIUsage.objects.all() if qs is None else qs
    now = timezone.localtime(now or timezone.now())
    if period == "month":
        trunc = TruncMonth("created_at")
        first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        keys = []
        year, month = first.year, first.month
        for _ in range(buckets):
            keys.append(first.replace(year=year, month=month).date())
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        keys.reverse()
    else:
        trunc = TruncDay("created_at")
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        keys = [(today - timedelta(days=i)).date() for i in reversed(range(buckets))]
    rows = qs.filter(created_at__date__gte=keys[0]).annotate(bucket=trunc).values("bucket").annotate(
        cost=Sum("cost"), calls=Count("id"))
    found = {}
    for row in rows:
        bucket = row["bucket"]
        bucket = timezone.localtime(bucket).date() if isinstance(bucket, datetime) else bucket
        found[bucket] = row
    return [{"bucket": k, "cost": (found.get(k) or {}).get("cost") or 0, "calls": (found.get(k) or {}).get("calls") or 0}
            for k in keys]
