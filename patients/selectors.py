"""Reads scoped to the acting user's clinic. Anything outside it is a 404, never a 403."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Clinic, Doctor, Patient
from .validators import cpf_normalize


def doctor_for_user(user) -> Doctor | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.doctor
    except Doctor.DoesNotExist:
        return None


def clinic_for_user(user) -> Clinic | None:
    doctor = doctor_for_user(user)
    return doctor.clinic if doctor else None


def clinic_id_for_user(user) -> int | None:
    """The user's clinic id without loading the clinic (the scoping filter needs only the id)."""
    doctor = doctor_for_user(user)
    return doctor.clinic_id if doctor else None


def patient_list(*, user, search: str = "") -> QuerySet[Patient]:
    clinic_id = clinic_id_for_user(user)
    if clinic_id is None:
        return Patient.objects.none()
    qs = Patient.objects.filter(clinic_id=clinic_id)
    search = (search or "").strip()
    if search:
        digits = cpf_normalize(search)
        cond = Q(full_name__icontains=search)
        if digits and len(digits) >= 3 and not any(c.isalpha() for c in search):
            cond |= Q(cpf__startswith=digits) | Q(cpf__contains=digits)
        qs = qs.filter(cond)
    return qs.order_by("full_name", "id")


def patient_get(*, user, pk) -> Patient:
    """The patient if it belongs to the user's clinic; Http404 otherwise."""
    try:
        return patient_list(user=user).get(pk=pk)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No patient matches the given query.")
