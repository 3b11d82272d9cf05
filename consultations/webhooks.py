"""`POST /livekit/webhook`: LiveKit room events, verified with livekit-api's WebhookReceiver.

LiveKit signs each delivery with a JWT (issuer = API key, HS256 with the API secret) in the
`Authorization` header whose `sha256` claim is the base64 SHA-256 of the raw body. A bad or
missing signature is a 401 and nothing is written. LiveKit retries deliveries, so each event id is
recorded once: a duplicate is acknowledged (200) and skipped.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from livekit import api as livekit_api

from .models import LiveKitWebhookDelivery
from .room_services import livekit_room_event

log = logging.getLogger(__name__)

HANDLED_EVENTS = frozenset({"room_started", "participant_joined", "participant_left", "room_finished"})
MAX_BODY_BYTES = 256 * 1024


def _receiver() -> livekit_api.WebhookReceiver | None:
    key = getattr(settings, "LIVEKIT_API_KEY", "") or ""
    secret = getattr(settings, "LIVEKIT_API_SECRET", "") or ""
    if not (key and secret):
        return None
    return livekit_api.WebhookReceiver(livekit_api.TokenVerifier(key, secret))


def _unauthorized(reason: str) -> JsonResponse:
    return JsonResponse({"detail": reason}, status=401)


@csrf_exempt
@require_POST
def livekit_webhook(request):
    receiver = _receiver()
    if receiver is None:
        # Without keys nothing can be verified, so nothing is trusted.
        return _unauthorized("LiveKit API key/secret are not configured on this server.")
    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse({"detail": "Body too large."}, status=413)
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        auth = auth[7:]
    if not auth:
        return _unauthorized("Missing Authorization header.")
    try:
        body = request.body.decode("utf-8")
        event = receiver.receive(body, auth)
    except Exception as exc:  # jwt errors, hash mismatch, undecodable JSON: all mean "not from LiveKit"
        log.warning("rejected LiveKit webhook: %s", type(exc).__name__)
        return _unauthorized("Invalid webhook signature.")

    if event.event not in HANDLED_EVENTS:
        return HttpResponse(status=200)
    try:
        with transaction.atomic():
            if event.id:
                LiveKitWebhookDelivery.objects.create(event_id=event.id[:64], event=event.event)
            livekit_room_event(
                event=event.event,
                room_sid=event.room.sid,
                room_name=event.room.name,
                identity=event.participant.identity if event.HasField("participant") else "",
            )
    except IntegrityError:
        # The event id is already recorded: a redelivery. Acknowledge so LiveKit stops retrying.
        return JsonResponse({"detail": "duplicate"}, status=200)
    return HttpResponse(status=200)
