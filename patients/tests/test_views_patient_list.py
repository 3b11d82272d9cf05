import pytest
from django.urls import reverse

from audit.models import AuditEvent
from patients.services import patient_create

URL = "/patients/"


@pytest.fixture
def many_patients(clinic, ctx_system):
    return [patient_create(ctx=ctx_system, clinic=clinic, full_name=f"Paciente {i:02d}") for i in range(30)]


def test_it_redirects_anonymous_users_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_only_the_clinic_patients(alice_client, patient, outsider_patient):
    response = alice_client.get(URL)
    assert response.status_code == 200
    assert [p.pk for p in response.context["page"].object_list] == [patient.pk]
    assert "Maria da Silva" in response.content.decode()
    assert "José Externo" not in response.content.decode()


@pytest.mark.parametrize("q", ["maria", "Silva", "529.982.247-25", "52998224725", "529982"])
def test_it_searches_by_name_or_cpf_formatted_or_not(alice_client, patient, clinic, ctx_system, q):
    patient_create(ctx=ctx_system, clinic=clinic, full_name="João Pereira", cpf="111.444.777-35")
    response = alice_client.get(URL, {"q": q})
    assert [p.pk for p in response.context["page"].object_list] == [patient.pk]


def test_it_says_when_nothing_matches(alice_client, patient):
    response = alice_client.get(URL, {"q": "Inexistente"})
    assert list(response.context["page"].object_list) == []
    assert "Nenhum paciente corresponde" in response.content.decode()


def test_it_paginates_25_per_page_keeping_the_search(alice_client, many_patients):
    first = alice_client.get(URL, {"q": "Paciente"})
    assert len(first.context["page"].object_list) == 25
    assert "q=Paciente&amp;page=2" in first.content.decode()
    second = alice_client.get(URL, {"q": "Paciente", "page": 2})
    assert [p.full_name for p in second.context["page"].object_list] == [f"Paciente {i}" for i in range(25, 30)]


def test_it_answers_htmx_search_with_the_results_fragment_only(alice_client, patient):
    response = alice_client.get(URL, {"q": "Maria"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Maria da Silva" in body
    assert "<html" not in body and 'id="patient-search"' not in body
    assert "HX-Request" in response["Vary"]


def test_it_serves_the_full_page_for_htmx_history_restore(alice_client, patient):
    response = alice_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_it_refuses_post(alice_client):
    assert alice_client.post(URL).status_code == 405


def test_it_audits_the_page_of_patients_shown(alice_client, alice, many_patients):
    alice_client.get(URL, {"q": "Paciente", "page": 2})
    event = AuditEvent.objects.get(action="patient.listed")
    assert event.actor == alice.user and event.clinic_id == alice.clinic_id
    assert event.extra == {"via": "web", "count": 5, "ids": [p.pk for p in many_patients[25:]], "searched": True}
