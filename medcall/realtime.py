"""The one module that owns Channels group names, event payload types and `group_send` helpers.

Events that describe a database change are sent on commit (`send_on_commit`), so a browser never
hears about a row that was rolled back. Payloads are plain dicts with a `type` (the consumer
handler name, dotted → underscored by Channels) and JSON-serialisable values.
"""
from __future__ import annotations

import logging
from typing import Any, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

SERVICE_STATUS_GROUP = "service-status"


def consultation_group(consultation_id: int) -> str:
    return f"consultation.{int(consultation_id)}"


class ServiceStatusEvent(TypedDict):
    type: str  # "service.status"
    name: str
    state: str
    message: str
    checked_at: str | None


class LinkStatusEvent(TypedDict, total=False):
    type: str  # "link.status"
    consultation_id: int
    status: str  # "preparing" | "ready" | "failed"
    url: str
    expires_at: str
    steps: list[dict[str, Any]]


def send(group: str, payload: dict[str, Any]) -> None:
    """group_send from sync code. A channel-layer failure is logged, never raised into the caller:
    a live update is a convenience; the database is the source of truth (pages also poll)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, payload)
    except Exception:
        log.warning("group_send to %s failed", group, exc_info=True)


async def asend(group: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, payload)
    except Exception:
        log.warning("group_send to %s failed", group, exc_info=True)


def send_on_commit(group: str, payload: dict[str, Any]) -> None:
    """Send after the current transaction commits (immediately when not in one)."""
    transaction.on_commit(lambda: send(group, payload))


# --- Consultation room (issue 4) -----------------------------------------------------------------
# The signalling consumers of one call (doctor + patient) share a group of their own: relayed SDP
# and control events must never reach the read-only events consumer of `consultation.<id>`.


def call_group(consultation_id: int) -> str:
    return f"call.{int(consultation_id)}"


class RoomPresenceEvent(TypedDict, total=False):
    type: str  # "room.presence" (to consultation.<id>) / "call.presence" (to call.<id>)
    consultation_id: int
    role: str  # "doctor" | "patient"
    state: str  # opened | waiting | connected | reconnecting | left
    patient: str
    doctor: str
    admitted: bool
    status: str  # consultation status


# --- Live transcript (transcription/) -------------------------------------------------------------
class TranscriptPartialEvent(TypedDict):
    type: str  # "transcript.partial"
    consultation_id: int
    utterance: str  # key shared with the final that replaces this preview
    speaker: str  # "doctor" | "patient" | "unknown"
    text: str  # "" while pending
    start_ms: int
    pending: bool  # True: transcription failed for now and will be retried


class TranscriptFinalEvent(TypedDict):
    type: str  # "transcript.final"
    consultation_id: int
    utterance: str
    id: int | None  # TranscriptSegment id; None when the utterance held no words (drop the preview)
    speaker: str
    text: str
    start_ms: int
    end_ms: int
    created_at: str | None


class TranscriptLagEvent(TypedDict):
    type: str  # "transcript.lag"
    consultation_id: int
    lagging: bool  # the transcriber is behind: show "transcrição atrasada"
    backlog_s: float  # age of the oldest utterance still waiting


# --- Consultation assistant (assist/) -------------------------------------------------------------
class SuggestionPayload(TypedDict):
    id: int
    key: str
    text: str  # the question, pt-BR (text_en: English)
    text_en: str
    reason: str
    reason_en: str
    topic: str
    red_flag: bool
    status: str  # "shown" | "asked" | "dismissed"
    source: str  # "local", "llm:<model>", "local (llm fallback: <reason>)"


class SuggestionsUpdatedEvent(TypedDict):
    type: str  # "suggestions.updated"
    consultation_id: int
    enabled: bool  # the doctor's per-consultation switch
    suggestions: list[SuggestionPayload]  # the visible list, at most 3, red flags first
    segment_id: int | None  # the final segment that triggered the refresh, if any
    sent_at: str
