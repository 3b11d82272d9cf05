"""Management commands: createdoctor (onboarding + API token) and seeddemo (local demo data)."""
import json
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from consultations.models import Consultation
from patients.models import Clinic, Doctor, Patient
from patients.validators import cpf_is_valid

PASSWORD = "s3nha-forte-123"


def run(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


# createdoctor ---------------------------------------------------------------------------------


def test_it_creates_a_doctor_and_prints_json(db):
    out = run(
        "createdoctor", "--username", "dra.ana", "--password", PASSWORD, "--clinic", "Clínica Nova",
        "--crm", "12345", "--uf", "sp", "--first-name", "Ana", "--last-name", "Costa", "--specialty", "Pediatria",
        "--json",
    )
    data = json.loads(out)
    assert set(data) == {"id", "username", "clinic", "api_token"}
    doctor = Doctor.objects.get(pk=data["id"])
    assert (data["username"], data["clinic"]) == ("dra.ana", "Clínica Nova")
    assert (doctor.crm_display, doctor.specialty, doctor.display_name) == ("CRM/SP 12345", "Pediatria", "Ana Costa")
    assert Token.objects.get(user=doctor.user).key == data["api_token"]
    assert doctor.user.check_password(PASSWORD)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"clinic.created", "doctor.created", "doctor.api_token_created"} <= actions
    assert data["api_token"] not in str(list(AuditEvent.objects.values_list("extra", flat=True)))


def test_it_gives_a_token_that_works_on_the_api(db):
    data = json.loads(run("createdoctor", "--username", "u1", "--password", PASSWORD, "--clinic", "C", "--json"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {data['api_token']}")
    assert client.get("/api/v1/patients/").json()["count"] == 0


def test_it_reuses_an_existing_clinic(clinic):
    run("createdoctor", "--username", "u1", "--password", PASSWORD, "--clinic", clinic.name)
    assert Clinic.objects.count() == 1
    assert Doctor.objects.get(user__username="u1").clinic == clinic


def test_it_prints_the_token_in_plain_mode(db):
    out = run("createdoctor", "--username", "u1", "--password", PASSWORD, "--clinic", "C")
    assert Token.objects.get(user__username="u1").key in out
    assert "u1" in out


def test_it_reads_the_password_from_a_file(db, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("arquivo-secreto-987\n")
    run("createdoctor", "--username", "u1", "--password-file", str(secret), "--clinic", "C")
    assert get_user_model().objects.get(username="u1").check_password("arquivo-secreto-987")


def test_it_reads_the_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("MEDCALL_DOCTOR_PASSWORD", "ambiente-secreto-654")
    run("createdoctor", "--username", "u1", "--clinic", "C")
    assert get_user_model().objects.get(username="u1").check_password("ambiente-secreto-654")


def test_it_refuses_without_a_password(db, monkeypatch):
    monkeypatch.delenv("MEDCALL_DOCTOR_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="MEDCALL_DOCTOR_PASSWORD"):
        run("createdoctor", "--username", "u1", "--clinic", "C")
    assert not get_user_model().objects.exists()


def test_it_refuses_a_weak_password(db):
    with pytest.raises(CommandError):
        run("createdoctor", "--username", "u1", "--password", "123", "--clinic", "C")
    assert not get_user_model().objects.exists()


def test_it_refuses_a_duplicate_username(alice):
    with pytest.raises(CommandError, match="username"):
        run("createdoctor", "--username", "alice", "--password", PASSWORD, "--clinic", "C")
    assert Doctor.objects.count() == 1 and not Clinic.objects.filter(name="C").exists()


@pytest.mark.parametrize(
    "crm_args,needle",
    [(["--crm", "12a45", "--uf", "SP"], "crm"), (["--crm", "12345"], "crm"), (["--crm", "1", "--uf", "ZZ"], "crm_uf")],
)
def test_it_refuses_an_invalid_crm_and_leaves_nothing_behind(db, crm_args, needle):
    with pytest.raises(CommandError, match=needle):
        run("createdoctor", "--username", "u1", "--password", PASSWORD, "--clinic", "C", *crm_args)
    assert not get_user_model().objects.exists() and not Token.objects.exists()


def test_it_refuses_a_crm_already_registered(alice):
    with pytest.raises(CommandError, match="CRM/SP 123456"):
        run("createdoctor", "--username", "u1", "--password", PASSWORD, "--clinic", "C", "--crm", "123456", "--uf", "SP")
    assert not get_user_model().objects.filter(username="u1").exists()


def test_it_exits_non_zero_from_the_shell(db, tmp_path):
    """The IT person's script sees a failure as an exit status and a message, not a traceback."""
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
           "VAR_DIR": str(tmp_path), "SECRET_KEY": "test-only-secret"}
    proc = subprocess.run(
        [sys.executable, "manage.py", "createdoctor", "--username", "u1", "--clinic", "C"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "MEDCALL_DOCTOR_PASSWORD" in proc.stderr and "Traceback" not in proc.stderr


# seeddemo -------------------------------------------------------------------------------------


@pytest.fixture
def debug_on(settings):
    # The test runner forces DEBUG off; demo data is a DEBUG-only feature.
    settings.DEBUG = True
    settings.DEMO_DATA = True
    return settings


def _password_from(out: str) -> str:
    # The login block is printed as "  <label>: <value>" lines: login first, password second.
    values = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("  ") and ":" in line]
    assert values[0] == "demo"
    return values[1]


def test_it_seeds_demo_data_and_prints_a_working_login(db, debug_on, client):
    out = run("seeddemo")
    password = _password_from(out)
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(password)
    doctor = user.doctor
    patients = Patient.objects.filter(clinic=doctor.clinic)
    assert patients.count() == 4
    assert all(cpf_is_valid(p.cpf) for p in patients)
    assert all(len(p.full_name.split()) >= 3 for p in patients)
    consultations = Consultation.objects.filter(doctor=doctor)
    assert consultations.count() >= 2
    assert {c.status for c in consultations} == {"waiting"}
    assert client.login(username="demo", password=password)
    # Created through the services: every record has its audit row.
    assert AuditEvent.objects.filter(action="patient.created").count() == 4
    assert AuditEvent.objects.filter(action="consultation.created").count() == consultations.count()


def test_it_is_idempotent_and_keeps_the_password(db, debug_on):
    password = _password_from(run("seeddemo"))
    out = run("seeddemo")
    assert "demo" in out
    assert password not in out
    assert Patient.objects.count() == 4 and Doctor.objects.count() == 1
    assert get_user_model().objects.get(username="demo").check_password(password)


def test_it_resets_the_demo_password_on_request(db, debug_on):
    old = _password_from(run("seeddemo"))
    new = _password_from(run("seeddemo", "--reset-password"))
    assert new != old
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(new) and not user.check_password(old)
    assert Patient.objects.count() == 4


def test_it_leaves_a_real_installation_alone(alice, debug_on):
    run("seeddemo")
    assert not get_user_model().objects.filter(username="demo").exists()
    assert Doctor.objects.count() == 1


def test_it_refuses_with_debug_off(db, debug_on):
    debug_on.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run("seeddemo")
    assert not Doctor.objects.exists()


def test_it_does_nothing_with_demo_data_off(db, debug_on):
    debug_on.DEMO_DATA = False
    run("seeddemo")
    assert not Doctor.objects.exists()
