"""All WebSocket routes; each app contributes its own consumers."""
from django.urls import path, re_path

from consultations.consumers import ConsultationEventsConsumer
from consultations.signaling import SignalingConsumer
from transcription.consumers import AudioIngestConsumer, TranscriptEventsConsumer
from tunnels.consumers import ServiceStatusConsumer
from tunnels.lk_proxy import LiveKitSignalProxy

websocket_urlpatterns: list = [
    path("ws/consultations/<int:pk>/events/", ConsultationEventsConsumer.as_asgi()),
    path("ws/services/", ServiceStatusConsumer.as_asgi()),
    path("ws/consultations/<int:pk>/signal/", SignalingConsumer.as_asgi()),
    path("ws/consultations/<int:pk>/audio/", AudioIngestConsumer.as_asgi()),
    path("ws/consultations/<int:pk>/transcript/", TranscriptEventsConsumer.as_asgi()),
    re_path(r"^lk/(?P<path>rtc.*)$", LiveKitSignalProxy.as_asgi()),
]
