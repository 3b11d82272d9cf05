"""JSON API for patients (`/api/v1/patients/`), plus the plumbing every MedCall API view shares.

Views stay thin: the serializers check the *shape* of the input, the selectors scope reads to the
doctor's clinic (anything else is a 404), and the services do the business validation and write
the audit rows. A service's `ValidationError` becomes a 400 with per-field messages in the
request's language (LocaleMiddleware has already activated it when the service builds them).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from audit.services import AuditContext

from . import selectors, services
from .models import Patient


class IsDoctor(BasePermission):
    """Only users with a Doctor profile may use the API: every record belongs to a doctor's clinic."""

    message = _(
        "Your account has no doctor profile, so it cannot use the MedCall API. "
        "Ask your clinic's administrator to create a doctor account for you (manage.py createdoctor)."
    )

    def has_permission(self, request, view):
        return selectors.doctor_for_user(request.user) is not None


class DoctorAPIView(GenericAPIView):
    """Base for every MedCall API view: token or session auth, doctor profile required.

    Token comes first so an anonymous API client gets 401 with `WWW-Authenticate: Token` (DRF
    takes the challenge from the first authenticator; the session one has none, which gives 403).
    """

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsDoctor]

    def audit_context(self) -> AuditContext:
        return AuditContext.from_request(self.request)

    @property
    def doctor(self):
        return selectors.doctor_for_user(self.request.user)


def service_errors(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as a DRF 400: `{"field": ["message", ...]}`.

    Errors without a field go under `non_field_errors`, as DRF's own validation does.
    """
    return ValidationError(serializers.as_serializer_error(exc))


ConflictSerializer = inline_serializer("Conflict", fields={"detail": serializers.CharField()})


class PatientSerializer(serializers.Serializer):
    """Shape only. CPF and phone may be typed formatted; the service normalizes and validates them."""

    id = serializers.IntegerField(read_only=True)
    full_name = serializers.CharField(max_length=200)
    cpf = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text=_("11 digits, formatted or not.")
    )
    birth_date = serializers.DateField(required=False, allow_null=True)
    phone = serializers.CharField(
        max_length=30, required=False, allow_blank=True, help_text=_("E.164 or Brazilian format; stored as E.164.")
    )
    email = serializers.EmailField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


@extend_schema(tags=["patients"])
class PatientListAPI(DoctorAPIView):
    """Patients of your clinic: list (paginated, optional `?search=` by name or CPF) and create."""

    serializer_class = PatientSerializer

    def get_queryset(self):
        return selectors.patient_list(user=self.request.user, search=self.request.query_params.get("search", ""))

    @extend_schema(
        operation_id="patients_list",
        summary="List the clinic's patients",
        responses={200: PatientSerializer(many=True)},
        parameters=[OpenApiParameter("search", str, description="Part of the name, or of the CPF (digits).")],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        services.patient_record_list(
            ctx=self.audit_context(), clinic=self.doctor.clinic, patients=page, via="api",
            searched=bool(request.query_params.get("search", "").strip()),
        )
        return self.get_paginated_response(PatientSerializer(page, many=True).data)

    @extend_schema(operation_id="patients_create", summary="Create a patient", responses={201: PatientSerializer})
    def post(self, request):
        serializer = PatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            patient = services.patient_create(
                ctx=self.audit_context(), clinic=self.doctor.clinic, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise service_errors(exc)
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["patients"])
class PatientDetailAPI(DoctorAPIView):
    """One patient of your clinic; another clinic's id is a 404."""

    serializer_class = PatientSerializer
    queryset = Patient.objects.none()  # for the schema only; reads go through the selector

    def get_object(self) -> Patient:
        return selectors.patient_get(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(operation_id="patients_retrieve", summary="Read a patient (recorded as patient.viewed)")
    def get(self, request, pk):
        patient = self.get_object()
        services.patient_record_view(ctx=self.audit_context(), patient=patient, via="api")
        return Response(PatientSerializer(patient).data)

    @extend_schema(operation_id="patients_partial_update", summary="Change some of a patient's fields")
    def patch(self, request, pk):
        patient = self.get_object()
        serializer = PatientSerializer(patient, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            services.patient_update(ctx=self.audit_context(), patient=patient, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise service_errors(exc)
        return Response(PatientSerializer(patient).data)

    @extend_schema(
        operation_id="patients_destroy",
        summary="Delete a patient without consultations",
        responses={
            204: OpenApiResponse(description="Deleted."),
            409: OpenApiResponse(ConflictSerializer, description="The patient has consultations on record."),
        },
    )
    def delete(self, request, pk):
        patient = self.get_object()
        try:
            services.patient_delete(ctx=self.audit_context(), patient=patient)
        except DjangoValidationError as exc:
            # The only refusal is "has consultations": a state conflict, not bad input.
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
