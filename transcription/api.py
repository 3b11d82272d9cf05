"""`GET /api/v1/consultations/<id>/transcript/`: the saved transcript, clinic-scoped and audited."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from patients.api import DoctorAPIView

from . import selectors, services


class TranscriptSegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    speaker = serializers.CharField(help_text="doctor | patient | unknown")
    text = serializers.CharField()
    start_ms = serializers.IntegerField(help_text="Milliseconds from the start of the consultation.")
    end_ms = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class TranscriptAPI(DoctorAPIView):
    """The consultation's transcript in spoken order (a consultation outside your clinic: 404).
    Every call is recorded in the audit trail as `transcript.viewed`."""

    serializer_class = TranscriptSegmentSerializer
    pagination_class = None

    @extend_schema(responses=TranscriptSegmentSerializer(many=True))
    def get(self, request, pk: int):
        consultation, segments = selectors.transcript_get(user=request.user, consultation_id=pk)
        services.transcript_record_view(ctx=self.audit_context(), consultation=consultation, via="api")
        return Response(TranscriptSegmentSerializer(segments, many=True).data)
