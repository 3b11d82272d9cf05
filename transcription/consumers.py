"""WebSocket consumers of the transcription pipeline.

`/ws/consultations/<id>/audio/?speaker=doctor|patient|unknown` (AudioIngestConsumer) — the audio
contract, usable by any client:
- Only the consultation's own doctor may connect (others: closed before accept, 4401 anonymous,
  4403 not your consultation). After accept, the server sends `{"type": "ready", ...}`.
- Binary frames: s16le mono 16 kHz PCM, at most 64 KiB, an even number of bytes.
- Text frames: JSON control, `{"type": "stop"}` (flush, then `stopped` and close 1000),
  `{"type": "pause"}` / `{"type": "resume"}`, `{"type": "speaker", "speaker": "doctor"}` (relabel the
  stream from now on: the in-person toggle), `{"type": "ping"}`.
- Errors are `{"type": "error", "code", "message"}`; when the stream cannot continue it is closed:
  4400 bad speaker / odd-length frame, 1009 frame over 64 KiB, 4409 consultation closed,
  4412 no transcription consent. A bad client only ever closes its own socket.

`/ws/consultations/<id>/transcript/` (TranscriptEventsConsumer) — read-only live transcript events
(`transcript.partial|final|lag`) for the clinic's doctors; the transcript panel listens here.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import AuditContext
from medcall import realtime

from . import selectors, services
from .models import Speaker
from .pool import dispatch_utterance, get_pool, use_celery
from .vad import SAMPLE_RATE, Segmenter, VadConfig

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
# Previews start once an utterance is this long: a short sentence's final comes soon enough, and each
# preview costs a full Whisper pass on a small CPU.
PARTIAL_AFTER_S = 2.0
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_CLOSED = 4409
CLOSE_NO_CONSENT = 4412
CLOSE_TOO_BIG = 1009

# VAD runs off the event loop too (cheap, but many streams add up); one call per frame per stream,
# awaited, so each stream's audio stays in order.
_vad_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vad")


@database_sync_to_async
def _load_consultation(user, consultation_id):
    consultation = selectors.audio_consultation_for(user=user, consultation_id=consultation_id)
    if consultation is None:
        return None, False
    from consultations.selectors import transcription_consented

    return consultation, transcription_consented(consultation_id=consultation.pk)


class AudioIngestConsumer(AsyncWebsocketConsumer):
    consultation = None
    closed_for_good = False

    async def connect(self):
        user = self.scope.get("user")
        try:
            consultation_id = int(self.scope["url_route"]["kwargs"]["pk"])
        except (KeyError, TypeError, ValueError):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        if not getattr(user, "is_authenticated", False):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        consultation, consented = await _load_consultation(user, consultation_id)
        if consultation is None:
            await self.close(code=CLOSE_FORBIDDEN)  # before accept(): reveals nothing
            return
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        speaker = (query.get("speaker") or [""])[0]
        if speaker not in Speaker.values:
            await self._fail(CLOSE_BAD_REQUEST, "bad_speaker",
                             _("Unknown speaker. Connect with ?speaker=doctor, ?speaker=patient or ?speaker=unknown."))
            return
        if not consultation.is_open:
            await self._fail(CLOSE_CLOSED, "consultation_closed",
                             _("This consultation has ended, so it can no longer be transcribed."))
            return
        if not consented:
            await self._fail(CLOSE_NO_CONSENT, "no_consent",
                             _("The patient has not consented to transcription. Record the patient's consent, "
                               "then start the transcription again."))
            return

        self.consultation = consultation
        self.speaker = speaker
        self.paused = False
        self.frames = 0
        self.samples = 0
        self.utterances = 0
        self.segmenter = Segmenter(VadConfig.from_settings())
        self.current_key: uuid.UUID | None = None
        self.last_partial_at = 0
        # Previews are in-process only; TRANSCRIPTION_PARTIAL_INTERVAL_S=0 turns them off.
        self.partials = not use_celery() and settings.TRANSCRIPTION_PARTIAL_INTERVAL_S > 0
        self.partial_every = int(settings.TRANSCRIPTION_PARTIAL_INTERVAL_S * SAMPLE_RATE)
        self.group = realtime.consultation_group(consultation.pk)
        # Offsets count from the start of the consultation (or from this stream when not started yet).
        started = consultation.started_at
        self.base_ms = max(0, int((timezone.now() - started).total_seconds() * 1000)) if started else 0
        self.ctx = AuditContext.from_scope(self.scope)
        await database_sync_to_async(services.transcription_stream_opened)(
            ctx=self.ctx, consultation=consultation, speaker=speaker
        )
        self.lagging = False
        self.lag_task = asyncio.create_task(self._watch_lag())
        if not use_celery():
            # Embedded mode has no beat: utterances this consultation left pending (a failed engine,
            # a restarted server) go back to the pool when its doctor streams again.
            leftovers = await database_sync_to_async(services.utterances_requeue_stale)(
                older_than_s=0, lost_after_s=60, consultation_id=consultation.pk
            )
            loop = asyncio.get_running_loop()
            for utterance_id in leftovers:
                dispatch_utterance(utterance_id, loop)
        await self._send({"type": "ready", "speaker": speaker, "sample_rate": SAMPLE_RATE,
                          "max_frame_bytes": MAX_FRAME_BYTES})

    async def disconnect(self, code):
        if self.consultation is None:
            return
        self.lag_task.cancel()
        if not self.closed_for_good:
            # The socket dropped without "stop": what was said so far is still transcribed.
            await self._flush()
            await self._closed_audit()

    # -- incoming ------------------------------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if self.consultation is None or self.closed_for_good:
            return
        if bytes_data is not None:
            await self._audio(bytes_data)
        elif text_data is not None:
            await self._control(text_data)

    async def _audio(self, data: bytes):
        if len(data) > MAX_FRAME_BYTES:
            await self._fail(CLOSE_TOO_BIG, "frame_too_large",
                             _("Audio frame too large (%(size)d bytes; at most 65536). Send 20–100 ms frames.")
                             % {"size": len(data)})
            return
        if len(data) % 2:
            await self._fail(CLOSE_BAD_REQUEST, "odd_length",
                             _("Audio frame with an odd number of bytes: send 16-bit little-endian PCM samples."))
            return
        self.frames += 1
        if self.paused or not data:
            return
        self.samples += len(data) // 2
        loop = asyncio.get_running_loop()
        segments = await loop.run_in_executor(_vad_executor, self.segmenter.feed, data)
        await self._enqueue(segments)
        if self.segmenter.in_speech and self.current_key is None:
            self.current_key = uuid.uuid4()
            self.last_partial_at = self.segmenter.samples_seen
        if self.partials and self.segmenter.in_speech and self.segmenter.samples_seen - self.last_partial_at >= self.partial_every:
            current = self.segmenter.current()
            if current is not None and current.duration_s >= PARTIAL_AFTER_S:
                self.last_partial_at = self.segmenter.samples_seen
                get_pool().submit_partial(
                    stream=self.channel_name, consultation_id=self.consultation.pk, utterance=str(self.current_key),
                    speaker=self.speaker, start_ms=self.base_ms + current.start_ms, pcm=current.pcm, loop=loop,
                )

    async def _control(self, text: str):
        try:
            message = json.loads(text) if len(text) <= 4096 else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self._error("invalid_json", _("Control messages are small JSON objects, e.g. {\"type\": \"stop\"}."))
            return
        kind = message.get("type")
        if kind == "stop":
            await self._flush()
            self.closed_for_good = True
            await self._closed_audit()
            await self._send({"type": "stopped", "frames": self.frames, "samples": self.samples,
                              "utterances": self.utterances})
            await self.close(code=1000)
        elif kind == "pause":
            await self._flush()
            self.paused = True
            await self._send({"type": "state", "paused": True, "speaker": self.speaker})
        elif kind == "resume":
            self.paused = False
            await self._send({"type": "state", "paused": False, "speaker": self.speaker})
        elif kind == "speaker":
            speaker = message.get("speaker")
            if speaker not in Speaker.values:
                await self._error("bad_speaker", _("Unknown speaker: use doctor, patient or unknown."))
                return
            self.speaker = speaker
            await self._send({"type": "state", "paused": self.paused, "speaker": self.speaker})
        elif kind == "ping":
            await self._send({"type": "pong"})
        else:
            await self._error("unknown_type", _("Unknown control message. Use stop, pause, resume, speaker or ping."))

    # -- pipeline ------------------------------------------------------------------------------------
    async def _flush(self):
        loop = asyncio.get_running_loop()
        segments = await loop.run_in_executor(_vad_executor, self.segmenter.flush)
        await self._enqueue(segments)

    async def _enqueue(self, segments):
        loop = asyncio.get_running_loop()
        for seg in segments:
            key = self.current_key or uuid.uuid4()
            self.current_key = None
            if self.partials:
                get_pool().utterance_cut(str(key))
            utterance = await database_sync_to_async(services.utterance_enqueue)(
                consultation_id=self.consultation.pk, speaker=self.speaker, start_ms=self.base_ms + seg.start_ms,
                end_ms=self.base_ms + seg.end_ms, pcm=seg.pcm, key=key,
            )
            self.utterances += 1
            dispatch_utterance(utterance.pk, loop)

    async def _watch_lag(self):
        try:
            while True:
                await asyncio.sleep(1.0)
                backlog = await database_sync_to_async(selectors.utterance_backlog_s)(
                    consultation_id=self.consultation.pk
                )
                lagging = backlog > settings.TRANSCRIPTION_LAG_S
                if lagging != self.lagging:
                    self.lagging = lagging
                    event = services.lag_event(consultation_id=self.consultation.pk, lagging=lagging, backlog_s=backlog)
                    await realtime.asend(self.group, event)
                    await self._send({k: v for k, v in event.items() if k != "consultation_id"})
        except asyncio.CancelledError:
            pass
        except Exception:
            log.warning("lag watch stopped for consultation %s", self.consultation.pk, exc_info=True)

    async def _closed_audit(self):
        await database_sync_to_async(services.transcription_stream_closed)(
            ctx=self.ctx, consultation=self.consultation, speaker=self.speaker, utterances=self.utterances,
            seconds=self.samples / SAMPLE_RATE,
        )

    # -- outgoing ------------------------------------------------------------------------------------
    async def _send(self, payload: dict):
        await self.send(text_data=json.dumps(payload))

    async def _error(self, code: str, message: str):
        await self._send({"type": "error", "code": code, "message": str(message)})

    async def _fail(self, close_code: int, code: str, message: str):
        await self._error(code, message)
        if self.consultation is not None and not self.closed_for_good:
            self.closed_for_good = True
            self.lag_task.cancel()
            await self._flush()  # what was said before the bad frame is still transcribed
            await self._closed_audit()
        self.closed_for_good = True
        await self.close(code=close_code)


@database_sync_to_async
def _may_watch(user, consultation_id) -> bool:
    from consultations.selectors import consultation_list

    return consultation_list(user=user).filter(pk=consultation_id).exists()


class TranscriptEventsConsumer(AsyncWebsocketConsumer):
    """Read-only live transcript of one consultation for its clinic's doctors."""

    async def connect(self):
        user = self.scope.get("user")
        try:
            self.consultation_id = int(self.scope["url_route"]["kwargs"]["pk"])
        except (KeyError, TypeError, ValueError):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        if not getattr(user, "is_authenticated", False) or not await _may_watch(user, self.consultation_id):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = realtime.consultation_group(self.consultation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message):
        # The consultation group also carries presence, link and suggestion events: not ours.
        kind = message.get("type", "")
        if kind.startswith("websocket.") or kind.startswith("transcript."):
            await super().dispatch(message)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data and '"ping"' in text_data:
            await self.send(text_data=json.dumps({"type": "pong"}))

    async def _forward(self, event):
        await self.send(text_data=json.dumps(event))

    transcript_partial = transcript_final = transcript_lag = _forward
