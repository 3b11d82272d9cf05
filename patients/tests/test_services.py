"""patients.services: normalization, business validation, uniqueness (including the race the
database constraint closes), and one masked audit row per write."""
import sys
import threading
import time
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import AuditContext
from patients.models import Clinic, Doctor, Patient
from patients.services import (
    doctor_create,
    patient_create,
    patient_delete,
    patient_record_view,
    patient_update,
)


def test_it_stores_cpf_and_phone_normalized(ctx_alice, clinic):
    p = patient_create(ctx=ctx_alice, clinic=clinic, full_name=" Ana  Costa ", cpf="529.982.247-25", phone="(11) 3333-4444")
    p.refresh_from_db()
    assert (p.full_name, p.cpf, p.phone) == ("Ana Costa", "52998224725", "+551133334444")
    assert p.cpf_display == "529.982.247-25"


def test_it_rejects_an_invalid_cpf(ctx_alice, clinic):
    with pytest.raises(ValidationError) as exc:
        patient_create(ctx=ctx_alice, clinic=clinic, full_name="Ana", cpf="529.982.247-24")
    assert list(exc.value.message_dict) == ["cpf"]
    assert not Patient.objects.exists()


def test_it_rejects_a_birth_date_in_the_future(ctx_alice, clinic):
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        patient_create(ctx=ctx_alice, clinic=clinic, full_name="Ana", birth_date=tomorrow)
    assert list(exc.value.message_dict) == ["birth_date"]
    patient_create(ctx=ctx_alice, clinic=clinic, full_name="Ana", birth_date=timezone.localdate())


def test_it_rejects_an_invalid_phone_and_an_empty_name_together(ctx_alice, clinic):
    with pytest.raises(ValidationError) as exc:
        patient_create(ctx=ctx_alice, clinic=clinic, full_name="   ", phone="12345")
    assert set(exc.value.message_dict) == {"full_name", "phone"}


def test_it_keeps_cpf_unique_within_a_clinic(ctx_alice, clinic, other_clinic, patient):
    with pytest.raises(ValidationError) as exc:
        patient_create(ctx=ctx_alice, clinic=clinic, full_name="Outra", cpf="52998224725")
    assert list(exc.value.message_dict) == ["cpf"]
    # Another clinic may have its own record of the same person.
    patient_create(ctx=ctx_alice, clinic=other_clinic, full_name="Maria da Silva", cpf="529.982.247-25")
    # Blank CPFs do not collide.
    patient_create(ctx=ctx_alice, clinic=clinic, full_name="Bebê 1")
    patient_create(ctx=ctx_alice, clinic=clinic, full_name="Bebê 2")


def test_it_refuses_an_update_to_a_cpf_already_used(ctx_alice, clinic, patient):
    other = patient_create(ctx=ctx_alice, clinic=clinic, full_name="Carlos", cpf="11144477735")
    with pytest.raises(ValidationError) as exc:
        patient_update(ctx=ctx_alice, patient=other, cpf="529.982.247-25")
    assert list(exc.value.message_dict) == ["cpf"]
    assert other.cpf == "11144477735"  # the in-memory object is left as it was
    other.refresh_from_db()
    assert other.cpf == "11144477735"


def _thread_is_inserting(thread: threading.Thread) -> bool:
    """True once `thread` is inside Model._do_insert, i.e. past the service's exists() check."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "_do_insert":
            return True
        frame = frame.f_back
    return False


@pytest.mark.django_db(transaction=True)
def test_it_turns_the_unique_constraint_race_into_a_field_error(clinic):
    """Two requests create the same CPF at once: the second passes the exists() check while the first
    is still uncommitted, and only the database constraint can stop it. That path must give the same
    field error as the ordinary duplicate check, not a 500."""
    ctx = AuditContext.system("tests")
    first_inserted = threading.Event()
    release_first = threading.Event()
    outcome = {}

    def first():
        try:
            with transaction.atomic():
                Patient.objects.create(clinic=clinic, full_name="Primeira", cpf="52998224725")
                first_inserted.set()
                release_first.wait(30)
        finally:
            connection.close()

    def second():
        try:
            patient_create(ctx=ctx, clinic=clinic, full_name="Segunda", cpf="529.982.247-25")
            outcome["result"] = "created"
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever came out
            outcome["result"] = exc
        finally:
            connection.close()

    t1 = threading.Thread(target=first)
    t1.start()
    assert first_inserted.wait(30)
    t2 = threading.Thread(target=second)
    t2.start()
    # Let the first transaction commit only once the second is past its exists() check and inserting
    # (blocked on the row lock in Postgres, on the write lock in SQLite).
    deadline = time.monotonic() + 30
    while not _thread_is_inserting(t2) and t2.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    release_first.set()
    t1.join(30)
    t2.join(30)

    exc = outcome["result"]
    assert isinstance(exc, ValidationError), exc
    assert list(exc.message_dict) == ["cpf"]
    assert isinstance(exc.__context__, IntegrityError)  # it came through the constraint, not exists()
    assert list(Patient.objects.values_list("full_name", flat=True)) == ["Primeira"]
    assert not AuditEvent.objects.filter(action="patient.created").exists()  # rolled back with the insert


def test_it_audits_create_with_masked_extra(ctx_alice, alice, clinic):
    p = patient_create(ctx=ctx_alice, clinic=clinic, full_name="Ana Costa", cpf="52998224725", notes="HIV+")
    event = AuditEvent.objects.get(action="patient.created")
    assert (event.actor, event.clinic, event.target_type, event.target_id) == (
        alice.user, clinic, "patients.patient", str(p.pk)
    )
    assert (event.ip, event.user_agent) == ("127.0.0.1", "pytest")
    assert event.extra == {"fields": ["cpf", "full_name", "notes"]}
    stored = str(event.extra) + str(event)
    for secret in ("52998224725", "Ana", "Costa", "HIV"):
        assert secret not in stored


def test_it_audits_update_with_changed_field_names_only(ctx_alice, patient):
    patient_update(ctx=ctx_alice, patient=patient, full_name="Maria da Silva", notes="Diabetes tipo 2")
    event = AuditEvent.objects.get(action="patient.updated")
    assert event.extra == {"fields": ["notes"]}
    assert "Diabetes" not in str(event.extra)


def test_it_does_not_audit_an_update_that_changes_nothing(ctx_alice, patient):
    patient_update(ctx=ctx_alice, patient=patient, full_name="Maria da Silva", cpf="529.982.247-25")
    assert not AuditEvent.objects.filter(action="patient.updated").exists()


def test_it_audits_a_record_view(ctx_alice, patient):
    patient_record_view(ctx=ctx_alice, patient=patient, via="api")
    event = AuditEvent.objects.get(action="patient.viewed")
    assert event.extra == {"via": "api"} and event.target_id == str(patient.pk)


def test_it_deletes_a_patient_and_keeps_the_audit_row(ctx_alice, patient):
    pk = patient.pk
    patient_delete(ctx=ctx_alice, patient=patient)
    assert not Patient.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.get(action="patient.deleted").target_id == str(pk)


def test_it_refuses_to_delete_a_patient_with_consultations(ctx_alice, patient, consultation):
    with pytest.raises(ValidationError):
        patient_delete(ctx=ctx_alice, patient=patient)
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert not AuditEvent.objects.filter(action="patient.deleted").exists()


def test_it_creates_a_doctor_and_the_clinic_when_new(db, ctx_system):
    doctor = doctor_create(
        ctx=ctx_system, username="dra.ana", password="s3nha-forte-123", clinic_name="Clínica Nova",
        crm="98765", crm_uf="mg", first_name="Ana",
    )
    assert doctor.clinic.name == "Clínica Nova" and doctor.crm_display == "CRM/MG 98765"
    assert doctor.user.check_password("s3nha-forte-123")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions == {"clinic.created", "doctor.created"}
    assert "s3nha" not in str(list(AuditEvent.objects.values_list("extra", flat=True)))
    doctor_create(ctx=ctx_system, username="dr.bruno", password="s3nha-forte-123", clinic_name="Clínica Nova")
    assert Clinic.objects.count() == 1


@pytest.mark.parametrize(
    "kwargs,field",
    [({"crm": "12a45", "crm_uf": "SP"}, "crm"), ({"crm": "12345"}, "crm"), ({"crm": "12345", "crm_uf": "XX"}, "crm_uf")],
)
def test_it_refuses_an_invalid_crm_and_leaves_nothing_behind(db, ctx_system, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        doctor_create(ctx=ctx_system, username="dr.x", password="s3nha-forte-123", clinic_name="C", **kwargs)
    assert field in exc.value.message_dict
    assert not Doctor.objects.exists()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="dr.x").exists()


def test_it_refuses_a_duplicate_username(ctx_system, alice):
    with pytest.raises(ValidationError) as exc:
        doctor_create(ctx=ctx_system, username="alice", password="s3nha-forte-123", clinic_name="C")
    assert list(exc.value.message_dict) == ["username"]


def test_it_accepts_an_old_birth_date(ctx_alice, clinic):
    p = patient_create(ctx=ctx_alice, clinic=clinic, full_name="Dona Benta", birth_date=date(1931, 2, 3))
    p.refresh_from_db()
    assert p.birth_date == date(1931, 2, 3)
