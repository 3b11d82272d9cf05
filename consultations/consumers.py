"""WebSocket consumers of the consultations app."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from medcall.realtime import consultation_group


@database_sync_to_async
def _doctor_may_watch(user, consultation_id) -> bool:
    from consultations.selectors import consultation_list

    return consultation_list(user=user).filter(pk=consultation_id).exists()


class ConsultationEventsConsumer(AsyncJsonWebsocketConsumer):
    """/ws/consultations/<id>/events/: live events of one consultation for its clinic's doctors
    (link status now; presence, transcript and suggestions in later work). Read-only: clients
    send nothing but pings."""

    async def connect(self):
        user = self.scope.get("user")
        try:
            self.consultation_id = int(self.scope["url_route"]["kwargs"]["pk"])
        except (KeyError, TypeError, ValueError):
            await self.close(code=4400)
            return
        if not getattr(user, "is_authenticated", False) or not await _doctor_may_watch(user, self.consultation_id):
            await self.close(code=4403)  # before accept(): nothing is revealed
            return
        self.group = consultation_group(self.consultation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "read_only", "message": "This channel is read-only."})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None or len(text_data) > 1024:
            await self.send_json({"type": "error", "code": "invalid", "message": "Send small JSON text frames only."})
            return
        try:
            await super().receive(text_data=text_data, **kwargs)
        except ValueError:
            await self.send_json({"type": "error", "code": "invalid_json", "message": "Malformed JSON."})

    async def link_status(self, event):
        await self.send_json({k: v for k, v in event.items()})

    async def room_presence(self, event):
        # Consultation room (issue 4): who is in the room, admission, status and consent, live.
        await self.send_json({k: v for k, v in event.items()})

    async def transcript_event(self, event):
        # Live transcript (issue 5, transcription/): forwarded as is; the panel may listen here or
        # on /ws/consultations/<id>/transcript/.
        await self.send_json({k: v for k, v in event.items()})

    transcript_partial = transcript_final = transcript_lag = transcript_event

    async def suggestions_updated(self, event):
        # Consultation assistant (issue 6, assist/): the visible follow-up questions, forwarded as is.
        await self.send_json({k: v for k, v in event.items()})
