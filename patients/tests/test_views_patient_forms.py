from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from patients.models import Patient

CREATE_URL = "/patients/new/"

VALID = {
    "full_name": "  Ana   Beatriz Costa ",
    "cpf": "111.444.777-35",
    "birth_date": "1985-04-12",
    "phone": "(21) 99876-5432",
    "email": "Ana@Example.com",
    "notes": "Alergia a dipirona",
}


def edit_url(patient):
    return f"/patients/{patient.pk}/edit/"


def field_errors(response, field):
    return response.context["form"].errors.get(field, [])


def test_it_shows_an_empty_form(alice_client):
    response = alice_client.get(CREATE_URL)
    assert response.status_code == 200
    assert 'name="cpf"' in response.content.decode()


def test_it_creates_a_patient_in_the_doctors_clinic(alice_client, alice):
    response = alice_client.post(CREATE_URL, VALID)
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert patient.clinic == alice.clinic
    assert patient.full_name == "Ana Beatriz Costa"
    assert patient.cpf == "11144477735"
    assert patient.phone == "+5521998765432"
    assert patient.birth_date == date(1985, 4, 12)
    event = AuditEvent.objects.get(action="patient.created")
    assert event.actor == alice.user and event.target_id == str(patient.pk)


def test_it_accepts_the_brazilian_date_format_typed_without_a_date_picker(alice_client):
    alice_client.post(CREATE_URL, {**VALID, "birth_date": "12/04/1985"})
    assert Patient.objects.get().birth_date == date(1985, 4, 12)


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"cpf": "111.444.777-34"}, "cpf", "CPF inválido: confira os dígitos verificadores."),
        ({"cpf": "1234"}, "cpf", "O CPF deve ter 11 dígitos."),
        ({"phone": "12345"}, "phone", "Telefone inválido"),
        ({"birth_date": "2999-01-01"}, "birth_date", "A data de nascimento não pode estar no futuro."),
        ({"full_name": "   "}, "full_name", "Este campo é obrigatório."),
        ({"email": "not-an-email"}, "email", "Insira um endereço de email válido."),
    ],
)
def test_it_shows_field_errors_and_writes_nothing(alice_client, changes, field, message):
    response = alice_client.post(CREATE_URL, {**VALID, **changes})
    assert response.status_code == 200
    assert any(message in e for e in field_errors(response, field)), field_errors(response, field)
    assert "Nada foi salvo." in response.content.decode()
    assert not Patient.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_duplicate_cpf_in_the_same_clinic(alice_client, patient):
    before = AuditEvent.objects.count()
    response = alice_client.post(CREATE_URL, {**VALID, "cpf": "52998224725"})
    assert field_errors(response, "cpf") == ["Já existe um paciente com este CPF nesta clínica."]
    assert Patient.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_it_allows_a_cpf_already_used_by_another_clinic(alice_client, outsider_patient):
    response = alice_client.post(CREATE_URL, {**VALID, "cpf": outsider_patient.cpf})
    assert response.status_code == 302
    assert Patient.objects.filter(cpf=outsider_patient.cpf).count() == 2


def test_it_prefills_the_edit_form(alice_client, patient):
    response = alice_client.get(edit_url(patient))
    assert response.status_code == 200
    assert 'value="529.982.247-25"' in response.content.decode()
    assert 'value="Maria da Silva"' in response.content.decode()


def test_it_saves_edits_and_audits_the_changed_fields(alice_client, alice, patient):
    data = {"full_name": "Maria da Silva Santos", "cpf": "52998224725", "phone": "+5511987654321",
            "email": "maria@example.com", "birth_date": "", "notes": ""}
    response = alice_client.post(edit_url(patient), data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.full_name == "Maria da Silva Santos"
    event = AuditEvent.objects.get(action="patient.updated")
    assert event.actor == alice.user
    assert event.extra == {"fields": ["full_name"]}


def test_it_keeps_the_record_unchanged_on_a_bad_edit(alice_client, patient):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = alice_client.post(edit_url(patient), {"full_name": "Outro Nome", "birth_date": tomorrow, "cpf": ""})
    assert response.status_code == 200
    assert field_errors(response, "birth_date")
    patient.refresh_from_db()
    assert patient.full_name == "Maria da Silva"
    assert not AuditEvent.objects.filter(action="patient.updated").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_is_404_to_edit_another_clinics_patient(charlie_client, patient, method):
    response = getattr(charlie_client, method)(edit_url(patient), {"full_name": "Invasor"})
    assert response.status_code == 404
    patient.refresh_from_db()
    assert patient.full_name == "Maria da Silva"


def test_it_refuses_delete_method_on_forms(alice_client, patient):
    assert alice_client.delete(CREATE_URL).status_code == 405
    assert alice_client.delete(edit_url(patient)).status_code == 405
