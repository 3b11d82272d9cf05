"""/ws/services/ pushes service status changes to signed-in staff and doctors; others are refused."""
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from medcall.routing import websocket_urlpatterns
from tunnels.services import service_status_set

app = URLRouter(websocket_urlpatterns)


@pytest.mark.django_db(transaction=True)
async def test_it_pushes_status_changes_to_a_signed_in_user(alice):
    comm = WebsocketCommunicator(app, "/ws/services/")
    comm.scope["user"] = alice.user
    connected, _ = await comm.connect()
    assert connected
    await sync_to_async(service_status_set)(name="redis", state="down", message="Redis não responde em 127.0.0.1:6379.")
    event = await comm.receive_json_from(timeout=5)
    assert event["type"] == "service.status" and event["name"] == "redis" and event["state"] == "down"
    assert "6379" in event["message"]
    await comm.send_to(text_data="{}")
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "read_only"
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_it_refuses_anonymous_users():
    from django.contrib.auth.models import AnonymousUser

    comm = WebsocketCommunicator(app, "/ws/services/")
    comm.scope["user"] = AnonymousUser()
    connected, code = await comm.connect()
    assert not connected and code == 4403
