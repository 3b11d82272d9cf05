"""`/api/v1/patients/`: contract fields, clinic scoping, per-field errors in the request's language,
token auth and the audit rows the API writes."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AuditEvent
from patients.models import Patient

FIELDS = {"id", "full_name", "cpf", "birth_date", "phone", "email", "notes"}


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice.user)
    return client


@pytest.fixture
def outsider_api(charlie):
    client = APIClient()
    client.force_authenticate(charlie.user)
    return client


def url(pk=None):
    return "/api/v1/patients/" if pk is None else f"/api/v1/patients/{pk}/"


def test_it_lists_only_the_clinic_patients_paginated(api, patient, outsider_patient):
    res = api.get(url())
    assert res.status_code == 200
    body = res.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert set(body["results"][0]) == FIELDS
    assert body["results"][0]["id"] == patient.pk


def test_it_searches_by_name_and_by_cpf(api, patient, ctx_system, clinic):
    from patients.services import patient_create

    patient_create(ctx=ctx_system, clinic=clinic, full_name="Carlos Pereira", cpf="111.444.777-35")
    assert [p["id"] for p in api.get(url(), {"search": "maria"}).json()["results"]] == [patient.pk]
    assert [p["full_name"] for p in api.get(url(), {"search": "111.444"}).json()["results"]] == ["Carlos Pereira"]


def test_it_creates_a_patient_normalized_and_audited(api, alice):
    res = api.post(
        url(),
        {"full_name": "  Ana   Costa ", "cpf": "529.982.247-25", "phone": "(21) 99876-5432", "birth_date": "1990-05-01"},
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert set(body) == FIELDS
    assert body["full_name"] == "Ana Costa"
    assert body["cpf"] == "52998224725"
    assert body["phone"] == "+5521998765432"
    assert Patient.objects.get(pk=body["id"]).clinic == alice.clinic
    event = AuditEvent.objects.get(action="patient.created", target_id=str(body["id"]))
    assert event.actor == alice.user
    assert "529" not in str(event.extra) and "Ana" not in str(event.extra)


def test_it_reads_one_patient_and_records_the_view(api, alice, patient):
    res = api.get(url(patient.pk))
    assert res.status_code == 200
    assert res.json()["full_name"] == "Maria da Silva"
    event = AuditEvent.objects.get(action="patient.viewed", target_id=str(patient.pk))
    assert event.actor == alice.user
    assert event.extra == {"via": "api"}


def test_it_patches_some_fields(api, patient):
    res = api.patch(url(patient.pk), {"notes": "Alergia a dipirona"}, format="json")
    assert res.status_code == 200, res.content
    patient.refresh_from_db()
    assert patient.notes == "Alergia a dipirona"
    assert patient.full_name == "Maria da Silva"
    event = AuditEvent.objects.get(action="patient.updated", target_id=str(patient.pk))
    assert event.extra == {"fields": ["notes"]}


def test_it_refuses_put(api, patient):
    assert api.put(url(patient.pk), {"full_name": "X"}, format="json").status_code == 405


def test_it_deletes_a_patient_without_consultations(api, patient):
    pk = patient.pk
    assert api.delete(url(pk)).status_code == 204
    assert not Patient.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.filter(action="patient.deleted", target_id=str(pk)).exists()


def test_it_refuses_to_delete_a_patient_with_consultations(api, patient, consultation):
    res = api.delete(url(patient.pk))
    assert res.status_code == 409
    assert "consulta" in res.json()["detail"]  # pt-BR by default
    assert Patient.objects.filter(pk=patient.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_answers_404_for_another_clinic_patient(outsider_api, patient, method):
    res = getattr(outsider_api, method)(url(patient.pk), {}, format="json")
    assert res.status_code == 404
    assert "Maria" not in res.content.decode()
    assert not AuditEvent.objects.filter(action="patient.viewed").exists()
    patient.refresh_from_db()
    assert patient.full_name == "Maria da Silva"


def test_it_gives_per_field_errors_in_portuguese_by_default(api):
    res = api.post(url(), {"full_name": "Ana", "cpf": "529.982.247-24"}, format="json")
    assert res.status_code == 400
    assert res.json() == {"cpf": ["CPF inválido: confira os dígitos verificadores."]}
    res = api.post(url(), {"full_name": "Ana", "birth_date": "2999-01-01"}, format="json")
    assert res.json() == {"birth_date": ["A data de nascimento não pode estar no futuro."]}
    # Shape errors (before the service runs) come from DRF's own pt-BR catalog.
    res = api.post(url(), {"cpf": "52998224725"}, format="json")
    assert res.json() == {"full_name": ["Este campo é obrigatório."]}


def test_it_gives_per_field_errors_in_english_on_request(api):
    res = api.post(
        url(), {"full_name": "Ana", "cpf": "529.982.247-24"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert res.status_code == 400
    assert res.json() == {"cpf": ["Invalid CPF: check the verification digits."]}


def test_it_reports_future_birth_date_and_bad_phone_together(api):
    res = api.post(
        url(), {"full_name": "Ana", "birth_date": "2999-01-01", "phone": "12345"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert res.status_code == 400
    body = res.json()
    assert body["birth_date"] == ["The birth date cannot be in the future."]
    assert body["phone"][0].startswith("Invalid phone number")


def test_it_reports_a_duplicate_cpf_in_the_clinic(api, patient):
    res = api.post(url(), {"full_name": "Outra Maria", "cpf": "52998224725"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 400
    assert res.json() == {"cpf": ["A patient with this CPF already exists in this clinic."]}


def test_it_accepts_token_auth(alice, patient):
    token = Token.objects.create(user=alice.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    res = client.get(url())
    assert res.status_code == 200
    assert res.json()["count"] == 1


def test_it_accepts_session_auth(alice_client, patient):
    res = alice_client.get(url())
    assert res.status_code == 200
    assert res.json()["results"][0]["id"] == patient.pk


def test_it_challenges_anonymous_clients(db):
    res = APIClient().get(url())
    assert res.status_code == 401
    assert res["WWW-Authenticate"] == "Token"


def test_it_rejects_a_wrong_token(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(url()).status_code == 401


def test_it_refuses_a_user_without_a_doctor_profile_with_a_clear_message(db):
    user = get_user_model().objects.create_user("reception", password="s3nha-forte-123")
    client = APIClient()
    client.force_authenticate(user)
    res = client.get(url(), HTTP_ACCEPT_LANGUAGE="en")
    assert res.status_code == 403
    assert "no doctor profile" in res.json()["detail"]


def test_it_records_which_patients_a_list_page_showed_without_the_search_text(api, alice, patient, outsider_patient):
    response = api.get(url(), {"search": "529.982"})
    assert [p["id"] for p in response.json()["results"]] == [patient.pk]
    event = AuditEvent.objects.get(action="patient.listed")
    assert (event.actor, event.clinic_id, event.target_type) == (alice.user, alice.clinic_id, "patients.patient")
    assert event.extra == {"via": "api", "count": 1, "ids": [patient.pk], "searched": True}
    assert "529" not in str(event.extra)


def test_it_records_nothing_for_an_empty_result_page(api, patient):
    assert api.get(url(), {"search": "Inexistente"}).json()["results"] == []
    assert not AuditEvent.objects.filter(action="patient.listed").exists()
