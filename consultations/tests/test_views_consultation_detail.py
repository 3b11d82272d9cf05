import pytest

from audit.models import AuditEvent
from consultations.services import consultation_transition


def url(consultation):
    return f"/consultations/{consultation.pk}/"


def test_it_shows_the_consultation_with_its_status_actions(alice_client, consultation):
    response = alice_client.get(url(consultation))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Maria da Silva" in body and "Dor de cabeça" in body
    assert [a["to"] for a in response.context["actions"]] == ["in_progress", "cancelled"]
    assert f'action="/consultations/{consultation.pk}/transition/"' in body
    assert "Iniciar consulta" in body and "Cancelar consulta" in body


def test_it_offers_only_legal_moves_for_the_current_status(alice_client, consultation, ctx_system):
    consultation_transition(ctx=ctx_system, consultation=consultation, to="in_progress")
    assert [a["to"] for a in alice_client.get(url(consultation)).context["actions"]] == ["completed", "cancelled"]
    consultation_transition(ctx=ctx_system, consultation=consultation, to="completed")
    assert alice_client.get(url(consultation)).context["actions"] == []


def test_it_has_the_link_panel_region_for_the_patient_link(alice_client, consultation):
    body = alice_client.get(url(consultation)).content.decode()
    assert 'id="link-panel"' in body
    assert f'data-consultation-id="{consultation.pk}"' in body


def test_it_records_the_read_in_the_audit_trail(alice_client, alice, consultation):
    alice_client.get(url(consultation))
    event = AuditEvent.objects.get(action="consultation.viewed")
    assert event.actor == alice.user
    assert event.target_type == "consultations.consultation"
    assert event.target_id == str(consultation.pk)
    assert event.extra == {"via": "web"}


def test_it_is_404_for_another_clinic_and_records_nothing(charlie_client, consultation):
    response = charlie_client.get(url(consultation))
    assert response.status_code == 404
    assert "Dor de cabeça" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="consultation.viewed").exists()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_refuses_mutating_methods(alice_client, consultation, method):
    assert getattr(alice_client, method)(url(consultation)).status_code == 405


def test_it_loads_the_full_transcript_on_the_detail_page_and_links_in_person_transcription(alice_client, consultation):
    from consultations.models import Consultation

    html = alice_client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert f'hx-get="/consultations/{consultation.pk}/transcript/panel/"' in html
    assert 'id="in-person-transcription"' not in html  # online consultation
    Consultation.objects.filter(pk=consultation.pk).update(type="in_person")
    html = alice_client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert f'href="/consultations/{consultation.pk}/in-person/"' in html
