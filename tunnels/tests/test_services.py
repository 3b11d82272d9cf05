"""service_status_set / service_status_all / public endpoint services, with the real channel layer
(in-memory by default, Redis when REDIS_URL is set) and the real Django cache."""
import asyncio
import queue
import threading

import pytest
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from medcall.realtime import SERVICE_STATUS_GROUP
from tunnels import services
from tunnels.models import PublicEndpoint, ServiceStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.delete(services.PUBLIC_URL_CACHE_KEY)
    yield
    cache.delete(services.PUBLIC_URL_CACHE_KEY)


class GroupListener:
    """A channel subscribed to the service-status group. It lives in one event loop on its own thread
    (the Redis layer binds a channel's receive buffer to the loop that reads it), and hands messages
    over through a thread-safe queue read with a bounded wait."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.messages: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._pump()), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the channel layer listener did not start"

    async def _pump(self):
        channel = await self.layer.new_channel()
        await self.layer.group_add(SERVICE_STATUS_GROUP, channel)
        self._ready.set()
        try:
            while not self._stop.is_set():
                try:
                    # Short waits so the loop notices _stop (and in-memory puts from other threads).
                    message = await asyncio.wait_for(self.layer.receive(channel), 0.1)
                except TimeoutError:
                    continue
                self.messages.put(message)
        finally:
            await self.layer.group_discard(SERVICE_STATUS_GROUP, channel)

    def receive(self, wait: float = 10.0):
        try:
            return self.messages.get(timeout=wait)
        except queue.Empty:
            return None

    def close(self):
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def listener():
    listening = GroupListener()
    # Drain anything left over from earlier tests sharing the layer.
    while listening.receive(wait=0.05) is not None:
        pass
    yield listening
    listening.close()


def test_it_creates_the_row_and_broadcasts_after_commit(listener, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        status = services.service_status_set(name="livekit", state="up", message="LiveKit ok", details={"port": 7880})
        # Nothing is sent before the transaction commits.
        assert listener.receive(wait=0.1) is None

    assert len(callbacks) == 1
    event = listener.receive()
    assert event == {
        "type": "service.status",
        "name": "livekit",
        "state": "up",
        "message": "LiveKit ok",
        "checked_at": status.checked_at.isoformat(),
    }
    row = ServiceStatus.objects.get(name="livekit")
    assert row.details == {"port": 7880}
    assert row.last_ok_at == row.checked_at == row.changed_at


def test_it_sends_nothing_when_state_and_message_are_unchanged(listener, django_capture_on_commit_callbacks):
    services.service_status_set(name="redis", state="down", message="Redis não responde")
    while listener.receive(wait=0.1) is not None:
        pass
    first = ServiceStatus.objects.get(name="redis")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = services.service_status_set(name="redis", state="down", message="Redis não responde")

    assert callbacks == []
    assert listener.receive(wait=0.3) is None
    assert again.checked_at > first.checked_at  # the check itself is still recorded
    assert again.changed_at == first.changed_at
    assert again.last_ok_at is None


def test_it_broadcasts_a_new_message_even_when_the_state_is_the_same(listener, django_capture_on_commit_callbacks):
    services.service_status_set(name="tunnel", state="down", message="first")
    while listener.receive(wait=0.1) is not None:
        pass
    first = ServiceStatus.objects.get(name="tunnel")

    with django_capture_on_commit_callbacks(execute=True):
        services.service_status_set(name="tunnel", state="down", message="second")

    event = listener.receive()
    assert (event["name"], event["state"], event["message"]) == ("tunnel", "down", "second")
    assert ServiceStatus.objects.get(name="tunnel").changed_at == first.changed_at


def test_it_moves_last_ok_only_on_up_and_changed_at_only_on_state_change():
    up = services.service_status_set(name="web", state="up", message="ok")
    down = services.service_status_set(name="web", state="down", message="gone")

    assert down.last_ok_at == up.last_ok_at
    assert down.changed_at > up.changed_at
    assert down.checked_at == down.changed_at


def test_it_stores_messages_in_the_site_language_even_from_an_english_request():
    with translation.override("en"):
        status = services.service_status_set(
            name="web",
            state="down",
            message=gettext_lazy("Not checked yet. Start everything with python manage.py runtunnels."),
        )

    assert status.message.startswith("Ainda não verificado")


def test_it_never_stores_secret_looking_details():
    status = services.service_status_set(
        name="livekit",
        state="degraded",
        details={"api_secret": "s3cr3t", "nested": {"authtoken": "tok"}, "port": 7880},
    )

    assert status.details == {"api_secret": "***", "nested": {"authtoken": "***"}, "port": 7880}


def test_it_refuses_unknown_names_and_states():
    with pytest.raises(ValueError):
        services.service_status_set(name="database", state="up")
    with pytest.raises(ValueError):
        services.service_status_set(name="web", state="fine")
    assert not ServiceStatus.objects.exists()


def test_it_lists_all_five_services_creating_missing_rows_sensibly(settings):
    settings.LIVEKIT_URL = ""
    settings.LIVEKIT_AUTOSTART = False
    settings.REDIS_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    services.service_status_set(name="tunnel", state="up", message="ok")

    rows = services.service_status_all()

    assert [r.name for r in rows] == ["web", "livekit", "tunnel", "redis", "worker"]
    states = {r.name: r.state for r in rows}
    assert states == {"web": "down", "livekit": "disabled", "tunnel": "up", "redis": "disabled", "worker": "disabled"}
    livekit = next(r for r in rows if r.name == "livekit")
    assert "ponto a ponto" in livekit.message
    assert ServiceStatus.objects.count() == 5
    # Idempotent: a second call creates nothing more.
    assert len(services.service_status_all()) == 5
    assert ServiceStatus.objects.count() == 5


def test_it_creates_configured_services_as_down_until_checked(settings):
    settings.LIVEKIT_URL = "http://127.0.0.1:7880"
    settings.REDIS_URL = "redis://127.0.0.1:6379/4"
    settings.CELERY_TASK_ALWAYS_EAGER = False

    states = {r.name: r.state for r in services.service_status_all()}

    assert states["livekit"] == states["redis"] == states["worker"] == "down"


# --- public endpoint ------------------------------------------------------------------------------------


def test_it_keeps_a_single_public_endpoint_row():
    first = services.public_endpoint_get()
    services.public_endpoint_set(provider="lan", public_url="https://192.168.0.10:8443/", state="opening")

    assert first.pk == PublicEndpoint.SINGLETON_PK
    assert PublicEndpoint.objects.count() == 1
    endpoint = services.public_endpoint_get()
    assert (endpoint.provider, endpoint.public_url, endpoint.state) == ("lan", "https://192.168.0.10:8443", "opening")
    assert endpoint.verified_at is None


def test_it_stamps_verification_and_returns_the_verified_url_without_trailing_slash():
    endpoint = services.public_endpoint_set(
        provider="ngrok", public_url="https://abc.ngrok-free.app/", state="verified", instance_id="i-1"
    )

    assert endpoint.verified_at is not None
    assert endpoint.instance_id == "i-1"
    assert services.public_url_get() == "https://abc.ngrok-free.app"


def test_it_returns_none_until_the_endpoint_is_verified():
    assert services.public_url_get() is None
    services.public_endpoint_set(provider="ngrok", public_url="https://abc.ngrok-free.app", state="verifying")
    assert services.public_url_get() is None


def test_it_serves_the_public_url_from_cache_without_queries(django_assert_num_queries):
    services.public_endpoint_set(provider="static", public_url="https://clinica.example.com", state="verified")

    with django_assert_num_queries(1):
        assert services.public_url_get() == "https://clinica.example.com"
    with django_assert_num_queries(0):
        assert services.public_url_get() == "https://clinica.example.com"
    # "No URL" is cached too, so a page without a tunnel does not query on every request.
    services.public_endpoint_set(provider="static", public_url="", state="closed")
    services.public_url_get()
    with django_assert_num_queries(0):
        assert services.public_url_get() is None


def test_it_invalidates_the_cached_url_when_the_endpoint_changes(django_capture_on_commit_callbacks):
    services.public_endpoint_set(provider="ngrok", public_url="https://old.ngrok-free.app", state="verified")
    assert services.public_url_get() == "https://old.ngrok-free.app"

    with django_capture_on_commit_callbacks(execute=True):
        services.public_endpoint_set(provider="ngrok", public_url="https://new.ngrok-free.app", state="verified")

    assert services.public_url_get() == "https://new.ngrok-free.app"
    services.public_endpoint_set(provider="ngrok", public_url="https://new.ngrok-free.app", state="failed")
    assert services.public_url_get() is None


def test_it_keeps_a_cached_value_for_the_ttl_when_another_process_writes_directly():
    services.public_endpoint_set(provider="ngrok", public_url="https://a.ngrok-free.app", state="verified")
    assert services.public_url_get() == "https://a.ngrok-free.app"

    # Another process (no access to this process's local cache) changes the row: the bounded TTL,
    # not an invalidation, is what makes this process see it.
    PublicEndpoint.objects.filter(pk=1).update(public_url="https://b.ngrok-free.app", updated_at=timezone.now())
    assert services.public_url_get() == "https://a.ngrok-free.app"
    cache.delete(services.PUBLIC_URL_CACHE_KEY)  # what TTL expiry does
    assert services.public_url_get() == "https://b.ngrok-free.app"
    assert services.PUBLIC_URL_CACHE_TTL <= 10


def test_it_refuses_unknown_endpoint_states():
    with pytest.raises(ValueError):
        services.public_endpoint_set(provider="ngrok", public_url="https://x", state="ready")


def test_it_keeps_previous_verification_time_when_the_tunnel_fails():
    verified = services.public_endpoint_set(provider="ngrok", public_url="https://x.app", state="verified")
    failed = services.public_endpoint_set(provider="ngrok", public_url="https://x.app", state="failed", message="ERR")

    assert failed.verified_at == verified.verified_at
    assert (failed.state, failed.message) == ("failed", "ERR")
