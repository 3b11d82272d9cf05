"""Writes of the consultation room: consent, presence, admission, end of call, LiveKit room events.

Every function here changes consultation data, so each writes its AuditEvent in the same
transaction and sends its live events on commit. Consultation status only moves through
`consultations.services.consultation_transition`, driven by what really happens: both peers
connected → in_progress; the doctor ends the call → completed (which also revokes the link).
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import AuditContext, audit_record
from medcall import realtime

from .models import CallSession, ConsentRecord, Consultation
from .services import InvalidTransition, consultation_transition

log = logging.getLogger(__name__)

P = CallSession.Presence
ROLES = ("doctor", "patient")
# States a browser may report about itself; `opened`/`left` are set by the server.
CLIENT_STATES = frozenset({P.WAITING, P.CONNECTED, P.RECONNECTING})


class RoomActionRefused(Exception):
    """A room action that cannot happen now; the message is user-facing and translated."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


# --- Consent ---------------------------------------------------------------------------------------


def consent_record(
    *,
    ctx: AuditContext,
    consultation: Consultation,
    teleconsultation: bool,
    transcription: bool,
    channel: str,
) -> ConsentRecord:
    """Append a consent record (text version, time, IP, user agent, who recorded it); audited as
    `consent.recorded`. The doctor's room page hears about it live."""
    if channel not in ConsentRecord.Channel.values:
        raise ValueError(f"unknown consent channel {channel!r}")
    user = ctx.user if getattr(ctx.user, "is_authenticated", False) else None
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            consultation=consultation,
            teleconsultation=bool(teleconsultation),
            transcription=bool(transcription),
            text_version=settings.CONSENT_TEXT_VERSION,
            channel=channel,
            recorded_by=user if channel == ConsentRecord.Channel.DOCTOR else None,
            ip=ctx.ip,
            user_agent=(ctx.user_agent or "")[:300],
        )
        audit_record(
            ctx=ctx,
            action="consent.recorded",
            target=consultation,
            extra={
                "consent_id": record.pk,
                "teleconsultation": record.teleconsultation,
                "transcription": record.transcription,
                "channel": channel,
                "text_version": record.text_version,
            },
        )
        session = _session_current(consultation, create=False)
        _send_snapshot(consultation, session)
    return record


def consent_summary(consultation_id: int) -> dict | None:
    from .selectors import consent_current

    consent = consent_current(consultation_id=consultation_id)
    if consent is None:
        return None
    return {
        "teleconsultation": consent.teleconsultation,
        "transcription": consent.transcription,
        "channel": consent.channel,
        "text_version": consent.text_version,
        "given_at": consent.given_at.isoformat(),
    }


# --- Sessions and presence ---------------------------------------------------------------------------


def _session_current(consultation: Consultation, *, create: bool, lock: bool = False) -> CallSession | None:
    qs = CallSession.objects.filter(consultation_id=consultation.pk, status=CallSession.Status.ACTIVE)
    if lock:
        qs = qs.select_for_update()
    session = qs.order_by("-started_at", "-id").first()
    if session is None and create:
        from .livekit_tokens import media_mode

        session = CallSession.objects.create(
            consultation_id=consultation.pk, mode=media_mode(), room_name=consultation.room_name
        )
    return session


def call_snapshot(consultation: Consultation, session: CallSession | None) -> dict:
    """What both pages need to draw the room: presence of each side, admission, status, consent."""
    return {
        "consultation_id": consultation.pk,
        "doctor": session.doctor_presence if session else P.ABSENT,
        "patient": session.patient_presence if session else P.ABSENT,
        "admitted": bool(session and session.admitted_at),
        "mode": session.mode if session else None,
        "status": consultation.status,
        "consent": consent_summary(consultation.pk),
    }


def _send_snapshot(consultation: Consultation, session: CallSession | None, **extra) -> None:
    snapshot = {**call_snapshot(consultation, session), **extra}
    # The doctor's consultation page (events consumer) and both room sockets (signalling consumer).
    realtime.send_on_commit(realtime.consultation_group(consultation.pk), {"type": "room.presence", **snapshot})
    realtime.send_on_commit(realtime.call_group(consultation.pk), {"type": "call.presence", **snapshot})


def call_state_get(*, consultation: Consultation) -> dict:
    """Read-only snapshot for page loads (no session is created)."""
    return call_snapshot(consultation, _session_current(consultation, create=False))


def call_presence_set(*, ctx: AuditContext, consultation: Consultation, role: str, state: str) -> dict:
    """Record where one side of the call is; audited as `call.presence` when it changes.

    When both sides report `connected` for the first time, the consultation moves waiting →
    in_progress. Returns the snapshot after the change. A closed consultation is left alone."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if state not in P.values:
        raise ValueError(f"unknown presence state {state!r}")
    with transaction.atomic():
        locked = Consultation.objects.select_for_update().get(pk=consultation.pk)
        if not locked.is_open:
            return call_snapshot(locked, _session_current(locked, create=False))
        session = _session_current(locked, create=state != P.LEFT, lock=True)
        if session is None:
            return call_snapshot(locked, None)
        field = f"{role}_presence"
        previous = getattr(session, field)
        if previous != state:
            setattr(session, field, state)
            session.presence_changed_at = timezone.now()
            session.save(update_fields=[field, "presence_changed_at"])
            audit_record(
                ctx=ctx,
                action="call.presence",
                target=locked,
                extra={"session_id": session.pk, "role": role, "from": previous, "to": state},
            )
        if (
            session.doctor_presence == P.CONNECTED
            and session.patient_presence == P.CONNECTED
            and locked.status == Consultation.Status.WAITING
        ):
            consultation_transition(ctx=ctx, consultation=locked, to=Consultation.Status.IN_PROGRESS)
        if previous != state or locked.status != consultation.status:
            _send_snapshot(locked, session)
    consultation.status = locked.status
    consultation.started_at = locked.started_at
    return call_snapshot(locked, session)


def call_admit(*, ctx: AuditContext, consultation: Consultation) -> dict:
    """The doctor lets the patient in from the waiting room; audited as `call.admitted`.

    Refused when the consultation is closed or the patient has not consented to the
    teleconsultation (CFM 2.314/2022: consent comes before the call)."""
    with transaction.atomic():
        locked = Consultation.objects.select_for_update().get(pk=consultation.pk)
        if not locked.is_open:
            raise RoomActionRefused(
                _("This consultation is already %(status)s, so nobody can be admitted.")
                % {"status": locked.get_status_display().lower()},
                "closed",
            )
        consent = consent_summary(locked.pk)
        if not consent or not consent["teleconsultation"]:
            raise RoomActionRefused(
                _(
                    "The patient has not consented to the teleconsultation yet. Ask them to accept it on "
                    "their phone, or record the consent they gave you in person or by phone."
                ),
                "no_consent",
            )
        session = _session_current(locked, create=True, lock=True)
        if session.admitted_at is None:
            session.admitted_at = timezone.now()
            session.save(update_fields=["admitted_at"])
            audit_record(ctx=ctx, action="call.admitted", target=locked, extra={"session_id": session.pk})
            realtime.send_on_commit(realtime.call_group(locked.pk), {"type": "call.admitted"})
            _send_snapshot(locked, session)
    return call_snapshot(locked, session)


def call_end(*, ctx: AuditContext, consultation: Consultation) -> dict:
    """The doctor ends the call for both sides; audited as `call.ended`.

    A call that really happened (in_progress) completes the consultation, which revokes the
    patient's link. A call that never connected only closes the room: the consultation stays
    waiting, so the doctor can reopen the room or cancel the consultation."""
    with transaction.atomic():
        locked = Consultation.objects.select_for_update().get(pk=consultation.pk)
        session = _session_current(locked, create=False, lock=True)
        now = timezone.now()
        if session is not None:
            session.status = CallSession.Status.ENDED
            session.ended_at = now
            session.save(update_fields=["status", "ended_at"])
        previous_status = locked.status
        if locked.status == Consultation.Status.IN_PROGRESS:
            consultation_transition(ctx=ctx, consultation=locked, to=Consultation.Status.COMPLETED)
        audit_record(
            ctx=ctx,
            action="call.ended",
            target=locked,
            extra={"session_id": session.pk if session else None, "from": previous_status, "to": locked.status},
        )
        realtime.send_on_commit(realtime.call_group(locked.pk), {"type": "call.ended", "status": locked.status})
        _send_snapshot(locked, session)
    consultation.status = locked.status
    consultation.ended_at = locked.ended_at
    return call_snapshot(locked, session)


# --- LiveKit room events (from the verified webhook) -----------------------------------------------


def _consultation_for_room(room_name: str) -> Consultation | None:
    return Consultation.objects.filter(room_name=room_name).first()


def _livekit_session(consultation: Consultation, room_sid: str) -> CallSession:
    """The session for a LiveKit room sid: an existing one, the active one still waiting for its
    sid, or a new one (webhooks can arrive before anybody opened our room page)."""
    session = CallSession.objects.select_for_update().filter(meeting_id=room_sid).first()
    if session is not None:
        return session
    session = (
        CallSession.objects.select_for_update()
        .filter(consultation=consultation, status=CallSession.Status.ACTIVE, meeting_id__isnull=True)
        .order_by("-started_at", "-id")
        .first()
    )
    if session is None:
        session = CallSession(consultation=consultation, room_name=consultation.room_name)
    session.mode = CallSession.Mode.LIVEKIT
    session.meeting_id = room_sid
    session.save()
    return session


def livekit_room_event(*, event: str, room_sid: str, room_name: str, identity: str = "") -> CallSession | None:
    """Apply one LiveKit webhook event (`room_started`, `participant_joined`, `participant_left`,
    `room_finished`) to the room's session and the presence shown to the doctor. Unknown rooms
    are ignored (None). Audited as `call.livekit_<event>`."""
    ctx = AuditContext.system("livekit-webhook")
    with transaction.atomic():
        consultation = _consultation_for_room(room_name)
        if consultation is None or not room_sid:
            return None
        consultation = Consultation.objects.select_for_update().get(pk=consultation.pk)
        session = _livekit_session(consultation, room_sid)
        role = "doctor" if identity.startswith("doctor-") else "patient" if identity.startswith("patient-") else ""
        if event == "room_finished":
            session.status = CallSession.Status.ENDED
            session.ended_at = session.ended_at or timezone.now()
            session.save(update_fields=["status", "ended_at"])
        elif event in ("participant_joined", "participant_left") and role:
            field = f"{role}_presence"
            setattr(session, field, P.CONNECTED if event == "participant_joined" else P.LEFT)
            session.presence_changed_at = timezone.now()
            session.save(update_fields=[field, "presence_changed_at"])
        audit_record(
            ctx=ctx,
            action=f"call.livekit_{event}",
            target=consultation,
            extra={"session_id": session.pk, "room_sid": room_sid, "identity": identity},
        )
        if (
            session.doctor_presence == P.CONNECTED
            and session.patient_presence == P.CONNECTED
            and consultation.status == Consultation.Status.WAITING
        ):
            try:
                consultation_transition(ctx=ctx, consultation=consultation, to=Consultation.Status.IN_PROGRESS)
            except InvalidTransition:  # pragma: no cover - status was checked under the row lock
                log.warning("consultation %s could not start from a LiveKit event", consultation.pk)
        _send_snapshot(consultation, session)
    return session
