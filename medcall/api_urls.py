"""`/api/v1/` — the JSON API contract (paths and fields are relied on by later work and integrations)."""
from django.urls import path

from assist import api as assist_api
from consultations import api as consultations_api
from consultations.room_views import consent_api_urlpatterns
from patients import api as patients_api
from transcription import api as transcription_api

urlpatterns = [
    path("patients/", patients_api.PatientListAPI.as_view(), name="api-patient-list"),
    path("patients/<int:pk>/", patients_api.PatientDetailAPI.as_view(), name="api-patient-detail"),
    path("consultations/", consultations_api.ConsultationListAPI.as_view(), name="api-consultation-list"),
    path(
        "consultations/<int:pk>/", consultations_api.ConsultationDetailAPI.as_view(), name="api-consultation-detail"
    ),
    path(
        "consultations/<int:pk>/transition/",
        consultations_api.ConsultationTransitionAPI.as_view(),
        name="api-consultation-transition",
    ),
    *consent_api_urlpatterns,  # /api/v1/consultations/<id>/consent/ (issue 4)
    path(
        "consultations/<int:pk>/transcript/", transcription_api.TranscriptAPI.as_view(), name="api-consultation-transcript"
    ),
    # Consultation assistant (issue 6)
    path("consultations/<int:pk>/suggestions/", assist_api.SuggestionListAPI.as_view(), name="api-consultation-suggestions"),
    path(
        "consultations/<int:pk>/suggestions/<int:sid>/",
        assist_api.SuggestionDetailAPI.as_view(),
        name="api-consultation-suggestion",
    ),
    path("consultations/<int:pk>/note/", assist_api.NoteAPI.as_view(), name="api-consultation-note"),
    path("ai-usage/", assist_api.AIUsageAPI.as_view(), name="api-ai-usage"),
]
