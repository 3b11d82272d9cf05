"""JSON API of the assistant (routes in medcall/api_urls.py):

- `GET  /api/v1/consultations/<id>/suggestions/` (`?all=1`: every suggestion so far, not only visible)
- `PATCH /api/v1/consultations/<id>/suggestions/<sid>/` with `{"status": "asked" | "dismissed"}`
- `GET|PUT /api/v1/consultations/<id>/note/`
- `GET  /api/v1/ai-usage/?period=day|month`

A consultation outside your clinic is a 404. Note reads and writes are audited.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from consultations.selectors import consultation_get
from patients.api import ConflictSerializer, DoctorAPIView, service_errors

from . import selectors, services
from .models import ConsultationNote, Suggestion


class SuggestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField(help_text="The question, in pt-BR.")
    reason = serializers.CharField()
    topic = serializers.CharField()
    red_flag = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Suggestion.Status.choices)
    source = serializers.CharField(help_text="Engine that proposed it: local, llm:<model>, local (llm fallback: …).")


class SuggestionStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[Suggestion.Status.ASKED, Suggestion.Status.DISMISSED])


class NoteSerializer(serializers.Serializer):
    subjective = serializers.CharField(allow_blank=True, trim_whitespace=False)
    objective = serializers.CharField(allow_blank=True, trim_whitespace=False)
    assessment = serializers.CharField(allow_blank=True, trim_whitespace=False)
    plan = serializers.CharField(allow_blank=True, trim_whitespace=False)
    final = serializers.BooleanField(default=False, write_only=True, help_text="Mark the note final (no more edits).")
    status = serializers.ChoiceField(choices=ConsultationNote.Status.choices, read_only=True)
    version = serializers.IntegerField(read_only=True)
    source = serializers.CharField(read_only=True)
    finalized_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class PeriodSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=selectors.PERIODS, default="month")


_totals_fields = {
    "calls": serializers.IntegerField(), "audio_seconds": serializers.FloatField(),
    "tokens_in": serializers.IntegerField(), "tokens_out": serializers.IntegerField(),
    "compute_seconds": serializers.FloatField(), "cost": serializers.DecimalField(max_digits=14, decimal_places=6),
}
UsageSummarySerializer = inline_serializer("AIUsageSummary", fields={
    "period": serializers.CharField(), "since": serializers.DateTimeField(), "currency": serializers.CharField(),
    "totals": inline_serializer("AIUsageTotals", fields=_totals_fields),
    "by_engine": inline_serializer("AIUsageByEngine", many=True, fields={
        "kind": serializers.CharField(), "engine": serializers.CharField(), **_totals_fields}),
    "by_doctor": inline_serializer("AIUsageByDoctor", many=True, fields={
        "doctor_id": serializers.IntegerField(allow_null=True), "doctor": serializers.CharField(), **_totals_fields}),
})


def _money(summary: dict) -> dict:
    """Decimals as strings with 6 places, floats rounded: stable JSON."""
    def fix(row):
        return {k: (f"{v:.6f}" if k == "cost" else round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}

    return {**summary, "totals": fix(summary["totals"]), "by_engine": [fix(r) for r in summary["by_engine"]],
            "by_doctor": [fix(r) for r in summary["by_doctor"]]}


@extend_schema(tags=["assistant"])
class SuggestionListAPI(DoctorAPIView):
    """Follow-up questions for this consultation: the visible ones (at most 3, red flags first), or
    with `?all=1` every suggestion made so far with its status."""

    serializer_class = SuggestionSerializer
    pagination_class = None

    @extend_schema(responses=SuggestionSerializer(many=True))
    def get(self, request, pk: int):
        consultation = consultation_get(user=request.user, pk=pk)
        if request.query_params.get("all") in ("1", "true"):
            rows = selectors.suggestions_all(consultation=consultation)
        else:
            rows = selectors.suggestions_visible(consultation=consultation)
        return Response(SuggestionSerializer(rows, many=True).data)


@extend_schema(tags=["assistant"])
class SuggestionDetailAPI(DoctorAPIView):
    serializer_class = SuggestionStatusSerializer

    @extend_schema(request=SuggestionStatusSerializer, responses=SuggestionSerializer)
    def patch(self, request, pk: int, sid: int):
        """Mark a suggestion asked ("perguntei") or dismissed ("dispensar")."""
        serializer = SuggestionStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _consultation, suggestion = selectors.suggestion_get(user=request.user, consultation_id=pk, suggestion_id=sid)
        try:
            suggestion = services.suggestion_set_status(ctx=self.audit_context(), suggestion=suggestion,
                                                        status=serializer.validated_data["status"])
        except DjangoValidationError as exc:
            raise service_errors(exc)
        return Response(SuggestionSerializer(suggestion).data)


@extend_schema(tags=["assistant"])
class NoteAPI(DoctorAPIView):
    """The consultation note (SOAP). Drafted automatically when the consultation is completed; PUT
    saves a new version, `"final": true` marks it final (then it answers 409 to changes)."""

    serializer_class = NoteSerializer

    @extend_schema(responses={200: NoteSerializer, 404: OpenApiResponse(description="No note yet.")})
    def get(self, request, pk: int):
        consultation = consultation_get(user=request.user, pk=pk)
        note = selectors.note_for(consultation=consultation)
        if note is None:
            raise NotFound(_("This consultation has no note yet. A draft is written when the consultation is "
                             "completed; you can also write one now with PUT."))
        services.note_record_view(ctx=self.audit_context(), consultation=consultation, via="api")
        return Response(NoteSerializer(note).data)

    @extend_schema(request=NoteSerializer, responses={200: NoteSerializer, 409: ConflictSerializer})
    def put(self, request, pk: int):
        consultation = consultation_get(user=request.user, pk=pk)
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            note = services.note_save(ctx=self.audit_context(), consultation=consultation, **serializer.validated_data)
        except services.NoteIsFinal as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(NoteSerializer(note).data)


@extend_schema(tags=["assistant"])
class AIUsageAPI(DoctorAPIView):
    """Your clinic's AI usage (transcription, suggestions, note drafts) since the start of the current
    day or month: totals, per engine and per doctor, with the estimated cost (AI_PRICES)."""

    serializer_class = PeriodSerializer
    pagination_class = None

    @extend_schema(parameters=[PeriodSerializer], responses=UsageSummarySerializer)
    def get(self, request):
        from django.conf import settings

        params = PeriodSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        summary = selectors.ai_usage_summary(user=request.user, period=params.validated_data["period"])
        return Response({**_money(summary), "currency": settings.AI_PRICES_CURRENCY})
