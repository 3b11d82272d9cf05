"""/ws/consultations/<id>/events/: the clinic's doctors get the consultation's live events;
anyone else is refused before accept; clients cannot push anything through it."""
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from medcall import realtime
from medcall.routing import websocket_urlpatterns

app = URLRouter(websocket_urlpatterns)


async def _connect(user, consultation_id):
    comm = WebsocketCommunicator(app, f"/ws/consultations/{consultation_id}/events/")
    comm.scope["user"] = user
    connected, code = await comm.connect()
    return comm, connected, code


@pytest.mark.django_db(transaction=True)
async def test_it_forwards_link_status_to_the_clinics_doctors_only(alice, bob, charlie, consultation, outsider_consultation):
    mine, ok, _ = await _connect(alice.user, consultation.pk)
    colleague, ok2, _ = await _connect(bob.user, consultation.pk)
    assert ok and ok2
    other, ok3, _ = await _connect(charlie.user, outsider_consultation.pk)
    assert ok3
    await sync_to_async(realtime.send)(
        realtime.consultation_group(consultation.pk),
        {"type": "link.status", "consultation_id": consultation.pk, "status": "ready", "url": "https://x/p/t"},
    )
    for comm in (mine, colleague):
        event = await comm.receive_json_from(timeout=5)
        assert event["type"] == "link.status" and event["status"] == "ready"
    assert await other.receive_nothing(timeout=0.3)  # another consultation hears nothing
    for comm in (mine, colleague, other):
        await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_refuses_outsiders_and_anonymous_before_accept(charlie, consultation):
    from django.contrib.auth.models import AnonymousUser

    _, connected, code = await _connect(charlie.user, consultation.pk)
    assert not connected and code == 4403
    _, connected, code = await _connect(AnonymousUser(), consultation.pk)
    assert not connected and code == 4403


@pytest.mark.django_db(transaction=True)
async def test_it_answers_bad_input_with_an_error_event_and_stays_open(alice, consultation):
    comm, connected, _ = await _connect(alice.user, consultation.pk)
    assert connected
    await comm.send_to(text_data="{not json")
    assert (await comm.receive_json_from(timeout=5))["code"] == "invalid_json"
    await comm.send_to(text_data="x" * 5000)
    assert (await comm.receive_json_from(timeout=5))["code"] == "invalid"
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await comm.receive_json_from(timeout=5))["code"] == "invalid"
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
    await comm.disconnect()
