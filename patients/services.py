"""Writes to patients, clinics and doctors. Each write records its audit event atomically."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import AuditContext, audit_record, audit_record_list

from .models import Clinic, Doctor, Patient
from .validators import cpf_normalize, phone_normalize

PATIENT_FIELDS = ("full_name", "cpf", "birth_date", "phone", "email", "notes")


def _clean_patient_values(values: dict) -> dict:
    """Normalize and validate patient values; raise ValidationError with per-field messages."""
    cleaned = dict(values)
    errors: dict[str, list] = {}
    if "full_name" in cleaned:
        cleaned["full_name"] = " ".join((cleaned["full_name"] or "").split())
        if not cleaned["full_name"]:
            errors.setdefault("full_name", []).append(_("Enter the patient's full name."))
    if "cpf" in cleaned:
        cleaned["cpf"] = cpf_normalize(cleaned["cpf"] or "")
    if "phone" in cleaned:
        try:
            cleaned["phone"] = phone_normalize(cleaned["phone"] or "")
        except ValidationError as exc:
            errors.setdefault("phone", []).extend(exc.messages)
    if "email" in cleaned:
        cleaned["email"] = (cleaned["email"] or "").strip().lower()
    if "notes" in cleaned:
        cleaned["notes"] = cleaned["notes"] or ""
    if cleaned.get("birth_date") and cleaned["birth_date"] > timezone.localdate():
        errors.setdefault("birth_date", []).append(_("The birth date cannot be in the future."))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _full_clean(patient: Patient) -> None:
    try:
        patient.full_clean(exclude=["clinic"], validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict)
    if patient.cpf and Patient.objects.filter(clinic=patient.clinic, cpf=patient.cpf).exclude(pk=patient.pk).exists():
        raise ValidationError({"cpf": [_("A patient with this CPF already exists in this clinic.")]})


def _cpf_conflict() -> ValidationError:
    return ValidationError({"cpf": [_("A patient with this CPF already exists in this clinic.")]})


def patient_create(*, ctx: AuditContext, clinic: Clinic, **values) -> Patient:
    """Create a patient in `clinic`; audited as `patient.created`."""
    unknown = set(values) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {sorted(unknown)}")
    cleaned = _clean_patient_values(values)
    patient = Patient(clinic=clinic, **cleaned)
    _full_clean(patient)
    try:
        with transaction.atomic():
            patient.save()
            audit_record(ctx=ctx, action="patient.created", target=patient, extra={"fields": sorted(cleaned)})
    except IntegrityError:
        # The unique constraint closes the race between the exists() check and the insert.
        raise _cpf_conflict()
    return patient


def patient_update(*, ctx: AuditContext, patient: Patient, **values) -> Patient:
    """Update the given fields; audited as `patient.updated` with the names of changed fields."""
    unknown = set(values) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {sorted(unknown)}")
    cleaned = _clean_patient_values(values)
    changed = sorted(f for f, v in cleaned.items() if getattr(patient, f) != v)
    if not changed:
        return patient
    original = {f: getattr(patient, f) for f in changed}
    for f in changed:
        setattr(patient, f, cleaned[f])
    try:
        _full_clean(patient)
        with transaction.atomic():
            patient.save(update_fields=[*changed, "updated_at"])
            audit_record(ctx=ctx, action="patient.updated", target=patient, extra={"fields": changed})
    except (ValidationError, IntegrityError) as exc:
        for f, v in original.items():  # leave the in-memory object as it was
            setattr(patient, f, v)
        if isinstance(exc, IntegrityError):
            raise _cpf_conflict()
        raise
    return patient


def patient_delete(*, ctx: AuditContext, patient: Patient) -> None:
    """Delete a patient with no consultations; otherwise refuse (records must be kept)."""
    if patient.consultations.exists():
        raise ValidationError(
            _("This patient has consultations on record and cannot be deleted: the medical record must be kept.")
        )
    with transaction.atomic():
        pk = patient.pk
        audit_record(ctx=ctx, action="patient.deleted", target=patient)
        patient.delete()
        patient.pk = pk


def patient_record_view(*, ctx: AuditContext, patient: Patient, via: str = "web") -> None:
    """Record that a patient's record was read (LGPD access log)."""
    audit_record(ctx=ctx, action="patient.viewed", target=patient, extra={"via": via})


def patient_record_list(*, ctx: AuditContext, clinic, patients, via: str = "web", searched: bool = False) -> None:
    """Record that a page of patient records (names, CPFs; notes through the API) was read."""
    audit_record_list(
        ctx=ctx, action="patient.listed", model=Patient, records=patients, clinic=clinic, via=via,
        extra={"searched": searched},
    )


def doctor_create(
    *,
    ctx: AuditContext,
    username: str,
    password: str,
    clinic_name: str,
    crm: str = "",
    crm_uf: str = "",
    specialty: str = "",
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> Doctor:
    """Create the clinic if new and a doctor account in it; audited as `doctor.created`."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [_("A user with this username already exists.")]})
    if bool(crm) != bool(crm_uf):
        raise ValidationError({"crm": [_("Enter the CRM number together with its state (UF).")]})
    with transaction.atomic():
        clinic, created = Clinic.objects.get_or_create(name=clinic_name.strip())
        if created:
            audit_record(ctx=ctx, action="clinic.created", target=clinic, clinic=clinic)
        user = User(username=username, first_name=first_name, last_name=last_name, email=email)
        user.set_password(password)
        user.save()
        doctor = Doctor(user=user, clinic=clinic, crm=crm, crm_uf=crm_uf.upper(), specialty=specialty)
        try:
            doctor.full_clean(exclude=["user"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict)
        doctor.save()
        audit_record(ctx=ctx, action="doctor.created", target=doctor, clinic=clinic, extra={"username": username})
    return doctor
