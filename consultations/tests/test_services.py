"""consultations.services: scheduling, legal and illegal status moves, timestamps, masked audit rows."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from consultations.models import Consultation
from consultations.services import (
    InvalidTransition,
    consultation_create,
    consultation_record_view,
    consultation_transition,
    consultation_update,
)

S = Consultation.Status


def test_it_creates_a_waiting_consultation_in_the_doctor_clinic(ctx_alice, alice, patient):
    c = consultation_create(
        ctx=ctx_alice, doctor=alice, patient=patient, scheduled_for=timezone.now(), chief_complaint=" Tosse seca "
    )
    assert c.status == S.WAITING and c.clinic == alice.clinic and c.chief_complaint == "Tosse seca"
    assert c.room_name.startswith("mc-") and len(c.room_name) > 10
    event = AuditEvent.objects.get(action="consultation.created")
    assert event.actor == alice.user and event.clinic == alice.clinic
    assert event.extra == {"patient_id": patient.pk, "type": "online"}
    assert "Tosse" not in str(event.extra) and "Maria" not in str(event.extra)


def test_it_gives_each_consultation_its_own_room(ctx_alice, alice, patient):
    rooms = {
        consultation_create(ctx=ctx_alice, doctor=alice, patient=patient, scheduled_for=timezone.now()).room_name
        for _ in range(3)
    }
    assert len(rooms) == 3


def test_it_refuses_a_patient_of_another_clinic(ctx_alice, alice, outsider_patient):
    with pytest.raises(ValidationError) as exc:
        consultation_create(ctx=ctx_alice, doctor=alice, patient=outsider_patient, scheduled_for=timezone.now())
    assert list(exc.value.message_dict) == ["patient"]
    assert not Consultation.objects.exists()


def test_it_refuses_an_unknown_type(ctx_alice, alice, patient):
    with pytest.raises(ValidationError) as exc:
        consultation_create(ctx=ctx_alice, doctor=alice, patient=patient, scheduled_for=timezone.now(), type="video")
    assert list(exc.value.message_dict) == ["type"]


@pytest.mark.parametrize(
    "path",
    [
        ["in_progress", "completed"],
        ["in_progress", "cancelled"],
        ["cancelled"],
    ],
)
def test_it_allows_the_legal_moves(ctx_alice, consultation, path):
    previous = "waiting"
    for to in path:
        consultation_transition(ctx=ctx_alice, consultation=consultation, to=to)
        assert consultation.status == to
        consultation.refresh_from_db()
        assert consultation.status == to
        event = AuditEvent.objects.filter(action="consultation.status_changed").first()
        assert event.extra == {"from": previous, "to": to}
        previous = to


@pytest.mark.parametrize(
    "before,to",
    [
        ([], "completed"),
        ([], "waiting"),
        (["in_progress"], "waiting"),
        (["in_progress"], "in_progress"),
        (["in_progress", "completed"], "cancelled"),
        (["in_progress", "completed"], "in_progress"),
        (["cancelled"], "in_progress"),
        (["cancelled"], "completed"),
    ],
)
def test_it_refuses_the_illegal_moves(ctx_alice, consultation, before, to):
    for step in before:
        consultation_transition(ctx=ctx_alice, consultation=consultation, to=step)
    current = consultation.status
    audited = AuditEvent.objects.filter(action="consultation.status_changed").count()
    with pytest.raises(InvalidTransition) as exc:
        consultation_transition(ctx=ctx_alice, consultation=consultation, to=to)
    assert (exc.value.current, exc.value.requested) == (current, to)
    assert exc.value.message
    consultation.refresh_from_db()
    assert consultation.status == current
    assert AuditEvent.objects.filter(action="consultation.status_changed").count() == audited


def test_it_refuses_an_unknown_status(ctx_alice, consultation):
    with pytest.raises(InvalidTransition) as exc:
        consultation_transition(ctx=ctx_alice, consultation=consultation, to="paused")
    assert exc.value.requested == "paused"


def test_it_judges_the_move_on_the_stored_status(ctx_alice, consultation):
    """A stale in-memory copy cannot push a closed consultation back open: the row is re-read."""
    stale = Consultation.objects.get(pk=consultation.pk)
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="cancelled")
    with pytest.raises(InvalidTransition) as exc:
        consultation_transition(ctx=ctx_alice, consultation=stale, to="in_progress")
    assert exc.value.current == "cancelled"


def test_it_sets_started_and_ended_times(ctx_alice, consultation):
    assert consultation.started_at is None and consultation.ended_at is None
    before = timezone.now()
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="in_progress")
    assert consultation.started_at >= before and consultation.ended_at is None
    started = consultation.started_at
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="completed")
    consultation.refresh_from_db()
    assert consultation.started_at == started
    assert consultation.ended_at >= started


def test_it_sets_ended_at_when_cancelled_before_starting(ctx_alice, consultation):
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="cancelled")
    consultation.refresh_from_db()
    assert consultation.started_at is None and consultation.ended_at is not None


def test_it_updates_fields_and_audits_only_their_names(ctx_alice, consultation):
    consultation_update(ctx=ctx_alice, consultation=consultation, chief_complaint="Dor torácica", notes="PA 14x9")
    consultation.refresh_from_db()
    assert consultation.chief_complaint == "Dor torácica" and consultation.notes == "PA 14x9"
    event = AuditEvent.objects.get(action="consultation.updated")
    assert event.extra == {"fields": ["chief_complaint", "notes"]}
    assert "torácica" not in str(event.extra) and "14x9" not in str(event.extra)


def test_it_refuses_status_through_update(ctx_alice, consultation):
    with pytest.raises(TypeError):
        consultation_update(ctx=ctx_alice, consultation=consultation, status="completed")
    consultation.refresh_from_db()
    assert consultation.status == "waiting"


def test_it_refuses_to_reschedule_a_closed_consultation(ctx_alice, consultation):
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="cancelled")
    with pytest.raises(ValidationError):
        consultation_update(ctx=ctx_alice, consultation=consultation, scheduled_for=timezone.now() + timedelta(days=1))
    # Notes may still be written after the consultation ended.
    consultation_update(ctx=ctx_alice, consultation=consultation, notes="Retorno em 30 dias")


def test_it_audits_a_record_view(ctx_alice, consultation):
    consultation_record_view(ctx=ctx_alice, consultation=consultation, via="admin")
    event = AuditEvent.objects.get(action="consultation.viewed")
    assert event.extra == {"via": "admin"} and event.target_id == str(consultation.pk)
