"""Writes to consultations. Status changes only through `consultation_transition`."""
from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from assist.services import note_draft_after_completion
from audit.services import AuditContext, audit_record, audit_record_list
from patients.models import Doctor, Patient

from .models import Consultation, PatientLink

S = Consultation.Status

# The only legal moves. Anything else is refused with InvalidTransition.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.WAITING: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

CONSULTATION_FIELDS = ("type", "scheduled_for", "chief_complaint", "notes")


class InvalidTransition(Exception):
    """An illegal status move; the message is user-facing and translated."""

    def __init__(self, message: str, *, current: str, requested: str):
        super().__init__(message)
        self.message = message
        self.current = current
        self.requested = requested


def _check_same_clinic(patient: Patient, doctor: Doctor) -> None:
    if patient.clinic_id != doctor.clinic_id:
        raise ValidationError({"patient": [_("Patient not found in this clinic.")]})


def consultation_create(
    *,
    ctx: AuditContext,
    doctor: Doctor,
    patient: Patient,
    scheduled_for,
    type: str = Consultation.Type.ONLINE,
    chief_complaint: str = "",
    notes: str = "",
) -> Consultation:
    """Schedule a consultation for a patient of the doctor's clinic; audited as `consultation.created`."""
    _check_same_clinic(patient, doctor)
    consultation = Consultation(
        patient=patient,
        doctor=doctor,
        clinic_id=doctor.clinic_id,
        type=type,
        scheduled_for=scheduled_for,
        chief_complaint=(chief_complaint or "").strip(),
        notes=notes or "",
    )
    try:
        consultation.full_clean(exclude=["patient", "doctor", "clinic"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict)
    with transaction.atomic():
        consultation.save()
        audit_record(
            ctx=ctx,
            action="consultation.created",
            target=consultation,
            extra={"patient_id": patient.pk, "type": consultation.type},
        )
    return consultation


def consultation_update(*, ctx: AuditContext, consultation: Consultation, **values) -> Consultation:
    """Edit scheduling/clinical fields (not status); audited with the names of changed fields."""
    unknown = set(values) - set(CONSULTATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown consultation fields: {sorted(unknown)}")
    if "chief_complaint" in values:
        values["chief_complaint"] = (values["chief_complaint"] or "").strip()
    changed = sorted(f for f, v in values.items() if getattr(consultation, f) != v)
    if not changed:
        return consultation
    if not consultation.is_open and set(changed) & {"type", "scheduled_for"}:
        raise ValidationError(_("A completed or cancelled consultation cannot be rescheduled."))
    original = {f: getattr(consultation, f) for f in changed}
    for f in changed:
        setattr(consultation, f, values[f])
    try:
        consultation.full_clean(exclude=["patient", "doctor", "clinic"])
    except ValidationError as exc:
        for f, v in original.items():
            setattr(consultation, f, v)
        raise ValidationError(exc.message_dict)
    with transaction.atomic():
        consultation.save(update_fields=[*changed, "updated_at"])
        audit_record(ctx=ctx, action="consultation.updated", target=consultation, extra={"fields": changed})
    return consultation


def consultation_transition(*, ctx: AuditContext, consultation: Consultation, to: str) -> Consultation:
    """Move a consultation to status `to`, or raise InvalidTransition.

    The row is locked and re-read so two concurrent moves cannot both succeed. Sets started_at /
    ended_at. Audited as `consultation.status_changed`.
    """
    valid = {s.value for s in S}
    if to not in valid:
        raise InvalidTransition(
            _("Unknown status “%(to)s”. Use one of: %(valid)s.") % {"to": to, "valid": ", ".join(sorted(valid))},
            current=consultation.status,
            requested=to,
        )
    with transaction.atomic():
        locked = Consultation.objects.select_for_update().get(pk=consultation.pk)
        current = locked.status
        if to not in TRANSITIONS[current]:
            raise InvalidTransition(
                _("A consultation cannot move from “%(current)s” to “%(to)s”.")
                % {"current": S(current).label, "to": S(to).label},
                current=current,
                requested=to,
            )
        now = timezone.now()
        locked.status = to
        fields = ["status", "updated_at"]
        if to == S.IN_PROGRESS and locked.started_at is None:
            locked.started_at = now
            fields.append("started_at")
        if to in (S.COMPLETED, S.CANCELLED) and locked.ended_at is None:
            locked.ended_at = now
            fields.append("ended_at")
        locked.save(update_fields=fields)
        if to in (S.COMPLETED, S.CANCELLED):
            # A finished consultation's patient link must stop working at once.
            _links_revoke(locked.pk, to, now)
        audit_record(
            ctx=ctx, action="consultation.status_changed", target=locked, extra={"from": current, "to": to}
        )
        if to == S.COMPLETED:  # the SOAP note draft (assist/), written after commit
            note_draft_after_completion(consultation_id=locked.pk)
    for f in ("status", "started_at", "ended_at", "updated_at"):
        setattr(consultation, f, getattr(locked, f))
    return consultation


def consultation_record_view(*, ctx: AuditContext, consultation: Consultation, via: str = "web") -> None:
    """Record that a consultation record (health data) was read."""
    audit_record(ctx=ctx, action="consultation.viewed", target=consultation, extra={"via": via})


def consultation_record_list(*, ctx: AuditContext, clinic, consultations, via: str = "web") -> None:
    """Record that a page of consultations (patient names, chief complaints) was read."""
    audit_record_list(ctx=ctx, action="consultation.listed", model=Consultation, records=consultations,
                      clinic=clinic, via=via)


# --- Patient links -------------------------------------------------------------------------------

LINK_SALT = "medcall.patient-link"


class LinkNotAllowed(Exception):
    """A link cannot be issued for this consultation; the message is user-facing."""


def _link_signer() -> signing.Signer:
    return signing.Signer(salt=LINK_SALT, algorithm="sha256")


def patient_link_token(link: PatientLink) -> str:
    """The opaque token in /p/<token>: the link's random nonce, signed with SECRET_KEY."""
    return _link_signer().sign(link.nonce)


def patient_link_url(link: PatientLink, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/p/{patient_link_token(link)}"


def patient_link_from_token(token: str) -> PatientLink | None:
    """The link a token names, or None when the token is tampered with or unknown (→ 404)."""
    try:
        nonce = _link_signer().unsign(token or "")
    except signing.BadSignature:
        return None
    return PatientLink.objects.select_related("consultation__patient", "consultation__doctor__user", "consultation__clinic").filter(nonce=nonce).first()


def _links_revoke(consultation_id: int, reason: str, now) -> int:
    return PatientLink.objects.filter(consultation_id=consultation_id, revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason=reason, pending=False
    )


def consultation_link_issue(*, ctx: AuditContext, consultation: Consultation, pending: bool = False) -> PatientLink:
    """Issue a new patient link, revoking any earlier one; audited as `consultation.link_issued`."""
    if consultation.type != Consultation.Type.ONLINE:
        raise LinkNotAllowed(_("In-person consultations do not use a patient link."))
    with transaction.atomic():
        # Lock the row (a concurrent end of the consultation must not leave a live link behind) and
        # re-read only its status.
        status = Consultation.objects.select_for_update().filter(pk=consultation.pk).values_list("status", flat=True).get()
        if status not in (S.WAITING, S.IN_PROGRESS):
            raise LinkNotAllowed(
                _("This consultation is %(status)s: a link can only be generated for an open consultation.")
                % {"status": S(status).label.lower()}
            )
        locked = consultation
        now = timezone.now()
        revoked = _links_revoke(locked.pk, "replaced", now)
        user = ctx.user if getattr(ctx.user, "is_authenticated", False) else None
        link = PatientLink.objects.create(
            consultation=locked,
            nonce=secrets.token_urlsafe(24),
            expires_at=now + timedelta(hours=settings.PATIENT_LINK_TTL_HOURS),
            created_by=user,
            pending=pending,
        )
        audit_record(
            ctx=ctx,
            action="consultation.link_issued",
            target=locked,
            extra={"link_id": link.pk, "expires_at": link.expires_at.isoformat(), "revoked_previous": revoked},
        )
    return link


def patient_link_opened(*, ctx: AuditContext, link: PatientLink) -> None:
    """Record that the link holder opened the landing page (a read of consultation data)."""
    now = timezone.now()
    with transaction.atomic():
        PatientLink.objects.filter(pk=link.pk, first_opened_at__isnull=True).update(first_opened_at=now)
        PatientLink.objects.filter(pk=link.pk).update(last_opened_at=now)
        audit_record(
            ctx=ctx, action="patient_link.opened", target=link.consultation, extra={"link_id": link.pk}
        )


def pending_links_mark_ready() -> list[PatientLink]:
    """Links issued while no public URL was verified; flips them to not pending and returns them
    so the caller can tell each consultation's page that its link is usable now."""
    now = timezone.now()
    links = list(
        PatientLink.objects.filter(pending=True, revoked_at__isnull=True, expires_at__gt=now).select_related(
            "consultation"
        )
    )
    if links:
        PatientLink.objects.filter(pk__in=[link.pk for link in links]).update(pending=False)
    return links


def consultation_link_request(*, ctx: AuditContext, consultation: Consultation) -> dict:
    """What "Gerar link" answers, without network I/O on this path.

    Ready (a verified public URL exists): a new link at once. Not ready: the link is issued now
    (pending) and the orchestrator is started in the background; the response lists the start-up
    steps, and the doctor's page hears `link.status` when the link becomes usable.
    """
    from tunnels.orchestrator import link_steps, orchestrator_kick
    from tunnels.services import public_url_get

    base_url = public_url_get()
    link = consultation_link_issue(ctx=ctx, consultation=consultation, pending=base_url is None)
    if base_url:
        return {"status": "ready", "url": patient_link_url(link, base_url), "expires_at": link.expires_at.isoformat()}
    orchestrator_kick()
    return {"status": "preparing", "steps": link_steps()}


def consultation_link_status(*, consultation: Consultation) -> dict:
    """The current link state for polling: ready with the URL, preparing with steps, or none."""
    from tunnels.orchestrator import link_steps
    from tunnels.services import public_url_get

    now = timezone.now()
    link = consultation.links.filter(revoked_at__isnull=True, expires_at__gt=now).order_by("-created_at").first()
    if link is None:
        return {"status": "none"}
    base_url = public_url_get()
    if base_url:
        return {"status": "ready", "url": patient_link_url(link, base_url), "expires_at": link.expires_at.isoformat()}
    return {"status": "preparing", "steps": link_steps()}
