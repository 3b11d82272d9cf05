"""Consultation reads scoped to the acting user's clinic (others: 404)."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from patients.selectors import clinic_id_for_user

from .models import Consultation


def consultation_list(*, user, patient_id=None, status: str | None = None) -> QuerySet[Consultation]:
    clinic_id = clinic_id_for_user(user)
    if clinic_id is None:
        return Consultation.objects.none()
    qs = Consultation.objects.filter(clinic_id=clinic_id).select_related("patient", "doctor__user")
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def consultation_get(*, user, pk) -> Consultation:
    try:
        return consultation_list(user=user).get(pk=pk)
    except (Consultation.DoesNotExist, ValueError, TypeError):
        raise Http404("No consultation matches the given query.")


def consultations_for_dashboard(*, user) -> dict:
    """Today's consultations and the next upcoming ones (local time zone)."""
    now = timezone.localtime()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    qs = consultation_list(user=user)
    today = qs.filter(scheduled_for__gte=start, scheduled_for__lt=end).order_by("scheduled_for")
    upcoming = qs.filter(scheduled_for__gte=end, status=Consultation.Status.WAITING).order_by("scheduled_for")[:20]
    return {"today": today, "upcoming": upcoming}


def consent_current(*, consultation_id: int):
    """The consent record in force (the latest), or None."""
    from .models import ConsentRecord

    return ConsentRecord.objects.filter(consultation_id=consultation_id).order_by("-given_at", "-id").first()


def transcription_consented(*, consultation_id: int) -> bool:
    """True only when the consent in force allows recording/transcription."""
    consent = consent_current(consultation_id=consultation_id)
    return bool(consent and consent.transcription)
