import pytest

from audit.models import AuditEvent
from consultations.models import Consultation


def url(consultation):
    return f"/consultations/{consultation.pk}/transition/"


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def test_it_refuses_get(alice_client, consultation):
    assert alice_client.get(url(consultation)).status_code == 405
    consultation.refresh_from_db()
    assert consultation.status == "waiting"


@pytest.mark.parametrize("to", ["in_progress", "cancelled"])
def test_it_is_404_for_another_clinic_and_changes_nothing(charlie_client, consultation, to):
    assert charlie_client.post(url(consultation), {"to": to}).status_code == 404
    consultation.refresh_from_db()
    assert consultation.status == "waiting"
    assert not AuditEvent.objects.filter(action="consultation.status_changed").exists()


def test_it_starts_and_completes_a_consultation(alice_client, alice, consultation):
    response = alice_client.post(url(consultation), {"to": "in_progress"}, follow=True)
    assert response.redirect_chain == [(f"/consultations/{consultation.pk}/", 302)]
    assert "Consulta iniciada." in messages_of(response)
    consultation.refresh_from_db()
    assert consultation.status == "in_progress" and consultation.started_at is not None

    alice_client.post(url(consultation), {"to": "completed"})
    consultation.refresh_from_db()
    assert consultation.status == "completed" and consultation.ended_at is not None
    events = AuditEvent.objects.filter(action="consultation.status_changed").order_by("id")
    assert [e.extra for e in events] == [
        {"from": "waiting", "to": "in_progress"},
        {"from": "in_progress", "to": "completed"},
    ]
    assert all(e.actor == alice.user for e in events)


def test_it_cancels_a_waiting_consultation(alice_client, consultation):
    response = alice_client.post(url(consultation), {"to": "cancelled"}, follow=True)
    assert "Consulta cancelada." in messages_of(response)
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.CANCELLED


def test_it_explains_an_illegal_move_and_changes_nothing(alice_client, consultation):
    response = alice_client.post(url(consultation), {"to": "completed"}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["Uma consulta não pode passar de “Aguardando” para “Concluída”. Nada foi alterado."]
    consultation.refresh_from_db()
    assert consultation.status == "waiting" and consultation.ended_at is None
    assert not AuditEvent.objects.filter(action="consultation.status_changed").exists()


def test_it_explains_an_unknown_status(alice_client, consultation):
    response = alice_client.post(url(consultation), {"to": "deleted"}, follow=True)
    assert "Nada foi alterado." in messages_of(response)[0]
    consultation.refresh_from_db()
    assert consultation.status == "waiting"


def test_it_speaks_english_when_asked(alice_client, consultation):
    response = alice_client.post(url(consultation), {"to": "completed"}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert messages_of(response) == ["A consultation cannot move from “Waiting” to “Completed”. Nothing was changed."]
