"""JSON API for consultations (`/api/v1/consultations/`).

Status never changes through PATCH: only `POST .../transition/` moves it, through
`consultation_transition`, which refuses illegal moves (→ 409 with the reason).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from patients.api import DoctorAPIView, service_errors
from patients.selectors import patient_get

from . import selectors, services
from .models import Consultation


class ConsultationSerializer(serializers.Serializer):
    """Shape only; the service checks the rest. `patient` is the id of a patient of your clinic."""

    id = serializers.IntegerField(read_only=True)
    patient = serializers.IntegerField(source="patient_id", min_value=1)
    type = serializers.ChoiceField(choices=Consultation.Type.choices, default=Consultation.Type.ONLINE)
    status = serializers.ChoiceField(choices=Consultation.Status.choices, read_only=True)
    scheduled_for = serializers.DateTimeField()
    chief_complaint = serializers.CharField(max_length=300, required=False, allow_blank=True)
    started_at = serializers.DateTimeField(read_only=True)
    ended_at = serializers.DateTimeField(read_only=True)


class ConsultationUpdateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Consultation.Type.choices, required=False)
    scheduled_for = serializers.DateTimeField(required=False)
    chief_complaint = serializers.CharField(max_length=300, required=False, allow_blank=True)

    def to_internal_value(self, data):
        # Say why instead of silently ignoring fields that this endpoint cannot change.
        if hasattr(data, "keys"):
            errors = {}
            if "status" in data:
                errors["status"] = [_("The status changes only through POST /api/v1/consultations/<id>/transition/.")]
            if "patient" in data:
                errors["patient"] = [_("The patient of a consultation cannot be changed; create a new consultation.")]
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)


class ConsultationFilterSerializer(serializers.Serializer):
    patient = serializers.IntegerField(required=False, min_value=1, help_text=gettext_lazy("Only this patient's."))
    status = serializers.ChoiceField(
        choices=Consultation.Status.choices, required=False, help_text=gettext_lazy("Only with this status.")
    )


# Inline enum: a second component for the same choices as `status` would make drf-spectacular warn
# about two names for one choice set.
@extend_schema_field({"type": "string", "enum": list(Consultation.Status.values)})
class StatusChoiceField(serializers.ChoiceField):
    pass


class TransitionSerializer(serializers.Serializer):
    to = StatusChoiceField(choices=Consultation.Status.choices)


TransitionConflictSerializer = inline_serializer(
    "TransitionConflict",
    fields={
        "detail": serializers.CharField(),
        "current": serializers.CharField(),
        "requested": serializers.CharField(),
    },
)


@extend_schema(tags=["consultations"])
class ConsultationListAPI(DoctorAPIView):
    """Consultations of your clinic: list (paginated, `?patient=`, `?status=`) and schedule."""

    serializer_class = ConsultationSerializer

    def get_queryset(self):
        filters = ConsultationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.consultation_list(
            user=self.request.user,
            patient_id=filters.validated_data.get("patient"),
            status=filters.validated_data.get("status"),
        )

    @extend_schema(
        operation_id="consultations_list",
        summary="List the clinic's consultations",
        parameters=[ConsultationFilterSerializer],
        responses={200: ConsultationSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        services.consultation_record_list(ctx=self.audit_context(), clinic=self.doctor.clinic, consultations=page,
                                          via="api")
        return self.get_paginated_response(ConsultationSerializer(page, many=True).data)

    @extend_schema(operation_id="consultations_create", summary="Schedule a consultation", responses={201: ConsultationSerializer})
    def post(self, request):
        serializer = ConsultationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            # Scoped lookup: another clinic's patient and a missing one get the same answer, so the
            # API does not reveal which ids exist elsewhere.
            patient = patient_get(user=request.user, pk=data.pop("patient_id"))
        except Http404:
            raise ValidationError({"patient": [_("Patient not found in this clinic.")]})
        try:
            consultation = services.consultation_create(
                ctx=self.audit_context(), doctor=self.doctor, patient=patient, **data
            )
        except DjangoValidationError as exc:
            raise service_errors(exc)
        return Response(ConsultationSerializer(consultation).data, status=status.HTTP_201_CREATED)


class ConsultationObjectMixin:
    queryset = Consultation.objects.none()  # for the schema only; reads go through the selector

    def get_object(self) -> Consultation:
        return selectors.consultation_get(user=self.request.user, pk=self.kwargs["pk"])


@extend_schema(tags=["consultations"])
class ConsultationDetailAPI(ConsultationObjectMixin, DoctorAPIView):
    """One consultation of your clinic; another clinic's id is a 404."""

    serializer_class = ConsultationSerializer

    @extend_schema(
        operation_id="consultations_retrieve", summary="Read a consultation (recorded as consultation.viewed)"
    )
    def get(self, request, pk):
        consultation = self.get_object()
        services.consultation_record_view(ctx=self.audit_context(), consultation=consultation, via="api")
        return Response(ConsultationSerializer(consultation).data)

    @extend_schema(
        operation_id="consultations_partial_update",
        summary="Reschedule or edit a consultation (not its status)",
        request=ConsultationUpdateSerializer,
        responses={200: ConsultationSerializer},
    )
    def patch(self, request, pk):
        consultation = self.get_object()
        serializer = ConsultationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.consultation_update(ctx=self.audit_context(), consultation=consultation, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise service_errors(exc)
        return Response(ConsultationSerializer(consultation).data)


@extend_schema(tags=["consultations"])
class ConsultationTransitionAPI(ConsultationObjectMixin, DoctorAPIView):
    """The only way to change a consultation's status."""

    serializer_class = TransitionSerializer

    @extend_schema(
        operation_id="consultations_transition",
        summary="Move a consultation to another status",
        description="waiting → in_progress → completed; waiting or in_progress → cancelled.",
        request=TransitionSerializer,
        responses={
            200: ConsultationSerializer,
            409: OpenApiResponse(TransitionConflictSerializer, description="Illegal move from the current status."),
        },
    )
    def post(self, request, pk):
        consultation = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.consultation_transition(
                ctx=self.audit_context(), consultation=consultation, to=serializer.validated_data["to"]
            )
        except services.InvalidTransition as exc:
            return Response(
                {"detail": exc.message, "current": exc.current, "requested": exc.requested},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(ConsultationSerializer(consultation).data)
