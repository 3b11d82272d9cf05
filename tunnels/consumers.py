from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from medcall.realtime import SERVICE_STATUS_GROUP


class ServiceStatusConsumer(AsyncJsonWebsocketConsumer):
    """/ws/services/: live service health for staff (admin status page) and doctors (link panel)."""

    async def connect(self):
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(SERVICE_STATUS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(SERVICE_STATUS_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        await self.send_json({"type": "error", "code": "read_only", "message": "This channel is read-only."})

    async def service_status(self, event):
        await self.send_json(event)
