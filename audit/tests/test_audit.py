"""The audit trail: append-only at instance and queryset level, masked extra data, context capture."""
import pytest
from django.test import RequestFactory

from audit.models import AppendOnlyError, AuditEvent
from audit.services import MASK, AuditContext, audit_record, mask_extra


@pytest.fixture
def event(ctx_alice, patient):
    return audit_record(ctx=ctx_alice, action="patient.viewed", target=patient, extra={"via": "web"})


def test_it_records_actor_target_clinic_and_origin(event, alice, patient):
    event.refresh_from_db()
    assert event.actor == alice.user and event.actor_label == "alice"
    assert (event.target_type, event.target_id, event.clinic) == ("patients.patient", str(patient.pk), patient.clinic)
    assert (event.ip, event.user_agent) == ("127.0.0.1", "pytest")


def test_it_refuses_to_change_a_saved_event(event):
    event.action = "patient.deleted"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "patient.viewed"


def test_it_refuses_to_delete_an_event(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_it_refuses_bulk_updates(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    assert AuditEvent.objects.get(pk=event.pk).action == "patient.viewed"


def test_it_masks_secrets_and_health_data_at_any_depth(db, ctx_system):
    extra = {
        "fields": ["cpf", "notes"],
        "cpf": "52998224725",
        "full_name": "Maria da Silva",
        "nested": {"chief_complaint": "Dor", "api_token": "abc", "NGROK_AUTHTOKEN": "xyz", "via": "api"},
        "items": [{"password": "p"}, {"phone": "+5511987654321"}],
    }
    stored = audit_record(ctx=ctx_system, action="test.masked", extra=extra).extra
    assert stored["fields"] == ["cpf", "notes"]  # field *names* are fine
    assert stored["cpf"] == stored["full_name"] == MASK
    assert stored["nested"] == {"chief_complaint": MASK, "api_token": MASK, "NGROK_AUTHTOKEN": MASK, "via": "api"}
    assert stored["items"] == [{"password": MASK}, {"phone": MASK}]
    assert mask_extra("plain") == "plain"


def test_it_labels_system_actors(db, ctx_system):
    event = audit_record(ctx=ctx_system, action="test.system")
    assert event.actor is None and event.actor_label == "system:tests"


def test_it_takes_ip_and_user_agent_from_the_request(alice):
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Firefox/130 " + "x" * 400)
    request.user = alice.user
    ctx = AuditContext.from_request(request)
    assert ctx.ip == "10.1.2.3" and ctx.user == alice.user and len(ctx.user_agent) == 300


def test_it_takes_the_client_from_a_websocket_scope(alice):
    scope = {"client": ("192.0.2.7", 5555), "headers": [(b"user-agent", b"Safari")], "user": alice.user}
    ctx = AuditContext.from_scope(scope)
    assert (ctx.ip, ctx.user_agent, ctx.user) == ("192.0.2.7", "Safari", alice.user)
