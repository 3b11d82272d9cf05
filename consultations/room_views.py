"""The consultation room: the doctor's room page, the patient's consent / pre-call / waiting / call /
end pages, LiveKit token endpoints, and the consent API. Views stay thin: access helper, one service
call, render."""
from __future__ import annotations

from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import AuditContext
from patients.selectors import doctor_for_user
from patients.views import doctor_required

from . import room_services
from .livekit_tokens import (
    LiveKitNotConfigured,
    livekit_token_for_doctor,
    livekit_token_for_patient,
    media_mode,
)
from .models import ConsentRecord, Consultation, PatientLink
from .selectors import consent_current, consultation_get, transcription_consented
from .services import consultation_record_view, patient_link_from_token, patient_link_opened

PATIENT_HEADERS = {"Referrer-Policy": "same-origin", "X-Robots-Tag": "noindex, nofollow"}


def _patient_ctx(request) -> AuditContext:
    return AuditContext(
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        label="patient-link",
    )


def _patient_page(request, template: str, context: dict, status: int = 200):
    response = render(request, template, context, status=status)
    for header, value in PATIENT_HEADERS.items():
        response[header] = value  # the token is in the URL: it must not leak to other sites
    return response


def _get_link_for_patient(request, token: str) -> tuple[PatientLink | None, object]:
    """(link, None) for a valid link, else (None, the error page to return)."""
    link = patient_link_from_token(token)
    if link is None:
        return None, _patient_page(request, "patient_link/invalid.html", {}, status=404)
    state = link.state()
    if state != "valid":
        if link.revoked_reason == Consultation.Status.COMPLETED:
            return None, redirect("patient-room-end", token=token)
        return None, _patient_page(request, "patient_link/gone.html", {"reason": state}, status=410)
    return link, None


def _patient_messages() -> dict:
    """Texts the patient page's script shows (translated here, so the catalog has them)."""
    return {
        "insecure": _(
            "This page is not secure (it is not HTTPS), so the phone will not share the camera. "
            "Open the link exactly as you received it, starting with https://."
        ),
        "denied": _(
            "You did not allow the camera or microphone. Tap the padlock or camera icon next to the address, "
            "allow camera and microphone, then reload the page."
        ),
        "no_device": _(
            "No camera or microphone was found. Connect one, or open the link on a phone, then reload the page."
        ),
        "in_use": _("The camera is being used by another app. Close the other app and reload the page."),
        "device_error": _("The camera or microphone could not be started. Reload the page and try again."),
        "connecting": _("Connecting to the doctor…"),
        "connected": _("Connected"),
        "reconnecting": _("Connection unstable: reconnecting…"),
        "failed": _("The video connection could not be established."),
        "failed_turn": _(
            "The video connection could not be established: this server has no TURN relay configured, and "
            "phone and clinic are on different networks. Ask the clinic to configure a TURN server (TURN_URL)."
        ),
        "server_lost": _("Connection to the server lost: trying again…"),
        "replaced": _("This consultation was opened in another window or tab."),
        "mic_ok": _("Microphone working"),
        "mic_silent": _("We cannot hear you. Check that the microphone is not muted."),
    }


def _doctor_messages() -> dict:
    return {
        **_patient_messages(),
        "connecting": _("Connecting to the patient…"),
        "presence": {
            "absent": _("Patient has not opened the link yet"),
            "opened": _("Patient opened the link"),
            "waiting": _("Patient is in the waiting room"),
            "connected": _("Patient is connected"),
            "reconnecting": _("Patient is reconnecting"),
            "left": _("Patient left"),
        },
        "no_consent": _("Waiting for the patient's consent."),
        "consent_yes": _("Teleconsultation: consented. Recording/transcription: consented."),
        "consent_no_transcription": _("Teleconsultation: consented. Recording/transcription: declined."),
        "end_confirm": _("End the call for you and the patient?"),
        "ended": _("The call has ended."),
        "mute": _("Mute"),
        "unmute": _("Unmute"),
        "camera_off": _("Turn camera off"),
        "camera_on": _("Turn camera on"),
    }


def _room_config(request, *, role: str, consultation: Consultation, token: str = "") -> dict:
    """What the room script needs; the socket's welcome message repeats mode and ICE servers."""
    ws_path = f"/ws/consultations/{consultation.pk}/signal/"
    if role == "patient":
        token_url = reverse("patient-room-token", kwargs={"token": token})
        end_url = reverse("patient-room-end", kwargs={"token": token})
    else:
        token_url = reverse("consultations:room-token", kwargs={"pk": consultation.pk})
        end_url = reverse("consultations:detail", kwargs={"pk": consultation.pk})
    return {
        "role": role,
        "consultation_id": consultation.pk,
        "mode": media_mode(),
        "ws_path": ws_path,
        "token": token,
        "livekit_token_url": token_url,
        "end_url": end_url,
        "messages": _doctor_messages() if role == "doctor" else _patient_messages(),
    }


# --- Doctor ----------------------------------------------------------------------------------------


def _doctor_transcription_context(request, consultation: Consultation) -> dict:
    """The live transcription on the room page (static/js/room/transcription.js): consent state,
    the transcript so far for the panel (an audited read), and the texts the script shows."""
    from django.templatetags.static import static

    from transcription import selectors as transcript_selectors
    from transcription.services import transcript_record_view

    transcript_record_view(ctx=AuditContext.from_request(request), consultation=consultation, via="room")
    consented = transcription_consented(consultation_id=consultation.pk)
    return {
        "transcription_consented": consented,
        "transcript_segments": transcript_selectors.transcript_segments(consultation=consultation),
        "transcript_pending": transcript_selectors.transcript_pending(consultation=consultation),
        "transcription_config": {
            "consultation_id": consultation.pk,
            "consented": consented,
            "open": consultation.is_open,
            "worklet_url": static("js/audio/pcm16k-worklet.js"),
            "texts": {
                "no_consent": _("Transcription off: the patient did not consent"),
                "waiting": _("Transcription starts when the call connects"),
                "connecting": _("Transcription: connecting…"),
                "needs_click": _("Click anywhere on this page to start the transcription."),
                "on": _("Transcription on"),
                "paused": _("Transcription paused"),
                "stopped": _("Transcription stopped"),
                "stopping": _("Transcription: saving the last words…"),
                "ended": _("Transcription off"),
                "pause": _("Pause transcription"),
                "resume": _("Resume transcription"),
                "capture_error": _(
                    "The transcription could not start in this browser. Reload the page to try again; the call "
                    "itself is not affected."
                ),
            },
        },
    }



@doctor_required
@require_http_methods(["GET"])
@never_cache
def doctor_room_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    if consultation.doctor_id != request.doctor.pk:
        return render(request, "room/not_your_call.html", {"consultation": consultation}, status=403)
    consultation_record_view(ctx=AuditContext.from_request(request), consultation=consultation, via="room")
    state = room_services.call_state_get(consultation=consultation)
    return render(
        request,
        "room/doctor_room.html",
        {
            "consultation": consultation,
            "state": state,
            "consent": consent_current(consultation_id=consultation.pk),
            "room_config": _room_config(request, role="doctor", consultation=consultation),
            **_doctor_transcription_context(request, consultation),
        },
    )


@doctor_required
@require_POST
def doctor_livekit_token_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    if consultation.doctor_id != request.doctor.pk:
        raise Http404
    try:
        token = livekit_token_for_doctor(request=request, consultation=consultation)
    except LiveKitNotConfigured as exc:
        return JsonResponse({"detail": str(exc)}, status=409)
    return JsonResponse(token.as_dict())


# --- Patient ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@never_cache
def patient_consent_view(request, token: str):
    """Consent before anything else (CFM 2.314/2022, LGPD): teleconsultation (required to go on)
    and, separately, recording/transcription (optional)."""
    link, error_page = _get_link_for_patient(request, token)
    if error_page:
        return error_page
    consultation = link.consultation
    ctx = _patient_ctx(request)
    error = ""
    if request.method == "POST":
        teleconsultation = request.POST.get("teleconsultation") == "yes"
        transcription = request.POST.get("transcription") == "yes"
        if teleconsultation:
            room_services.consent_record(
                ctx=ctx,
                consultation=consultation,
                teleconsultation=True,
                transcription=transcription,
                channel=ConsentRecord.Channel.PATIENT_LINK,
            )
            return redirect("patient-room", token=token)
        error = _(
            "To join a teleconsultation you need to agree to it. If you prefer not to, contact the clinic "
            "to arrange an in-person consultation."
        )
    else:
        patient_link_opened(ctx=ctx, link=link)
        room_services.call_presence_set(ctx=ctx, consultation=consultation, role="patient", state="opened")
    return _patient_page(
        request,
        "room/patient_consent.html",
        {
            "consultation": consultation,
            "doctor_name": consultation.doctor.display_name,
            "clinic_name": consultation.clinic.name,
            "first_name": consultation.patient.first_name,
            "text_version": _consent_text_version(),
            "error": error,
            "token": token,
        },
        status=200 if not error else 400,
    )


def _consent_text_version() -> str:
    from django.conf import settings

    return settings.CONSENT_TEXT_VERSION


@require_http_methods(["GET"])
@never_cache
def patient_room_view(request, token: str):
    """Pre-call check → waiting room → call, one page whose script follows the room's state, so a
    reload (or a short network drop) lands the patient back where they were with the same link."""
    link, error_page = _get_link_for_patient(request, token)
    if error_page:
        return error_page
    consultation = link.consultation
    consent = consent_current(consultation_id=consultation.pk)
    if consent is None or not consent.teleconsultation:
        return redirect("patient-consent", token=token)
    patient_link_opened(ctx=_patient_ctx(request), link=link)
    return _patient_page(
        request,
        "room/patient_room.html",
        {
            "consultation": consultation,
            "doctor_name": consultation.doctor.display_name,
            "clinic_name": consultation.clinic.name,
            "room_config": _room_config(request, role="patient", consultation=consultation, token=token),
        },
    )


@require_POST
def patient_livekit_token_view(request, token: str):
    link = patient_link_from_token(token)
    if link is None or link.state() != "valid":
        return JsonResponse({"detail": _("This link is no longer valid.")}, status=403)
    consultation = link.consultation
    if not room_services.call_state_get(consultation=consultation)["admitted"]:
        return JsonResponse({"detail": _("The doctor has not let you in yet.")}, status=403)
    try:
        room_token = livekit_token_for_patient(request=request, consultation=consultation)
    except LiveKitNotConfigured as exc:
        return JsonResponse({"detail": str(exc)}, status=409)
    return JsonResponse(room_token.as_dict())


@require_http_methods(["GET"])
@never_cache
def patient_end_view(request, token: str):
    """Shown when the call ends. Works after the link was revoked by the consultation's end."""
    link = patient_link_from_token(token)
    if link is None:
        return _patient_page(request, "patient_link/invalid.html", {}, status=404)
    consultation = link.consultation
    return _patient_page(
        request,
        "room/patient_end.html",
        {
            "doctor_name": consultation.doctor.display_name,
            "clinic_name": consultation.clinic.name,
            "finished": not consultation.is_open,
            "can_return": consultation.is_open and link.state() == "valid",
            "token": token,
        },
    )


# --- Consent API -----------------------------------------------------------------------------------


class ConsentSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = ConsentRecord
        fields = ["id", "teleconsultation", "transcription", "text_version", "channel", "recorded_by", "given_at"]
        read_only_fields = fields

    def get_recorded_by(self, obj) -> str | None:
        return obj.recorded_by.get_username() if obj.recorded_by_id else None


class ConsentInputSerializer(serializers.Serializer):
    teleconsultation = serializers.BooleanField()
    transcription = serializers.BooleanField()


class ConsultationConsentAPI(APIView):
    """GET: the consultation's consent records (newest first). POST {teleconsultation, transcription}:
    record consent given in person or by phone, with the requesting doctor as recorder."""

    def _consultation(self, request, pk) -> Consultation:
        if doctor_for_user(request.user) is None:
            raise Http404
        return consultation_get(user=request.user, pk=pk)

    @extend_schema(operation_id="consultations_consent_list", responses={200: ConsentSerializer(many=True)})
    def get(self, request, pk: int):
        consultation = self._consultation(request, pk)
        consultation_record_view(ctx=AuditContext.from_request(request), consultation=consultation, via="api-consent")
        records = consultation.consents.select_related("recorded_by").order_by("-given_at", "-id")
        return Response(ConsentSerializer(records, many=True).data)

    @extend_schema(
        operation_id="consultations_consent_create", request=ConsentInputSerializer, responses={201: ConsentSerializer}
    )
    def post(self, request, pk: int):
        consultation = self._consultation(request, pk)
        data = ConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = room_services.consent_record(
            ctx=AuditContext.from_request(request),
            consultation=consultation,
            teleconsultation=data.validated_data["teleconsultation"],
            transcription=data.validated_data["transcription"],
            channel=ConsentRecord.Channel.DOCTOR,
        )
        return Response(ConsentSerializer(record).data, status=http.HTTP_201_CREATED)


# --- URL patterns (included from consultations/urls.py, medcall/web_urls.py, medcall/api_urls.py) --

# Under /consultations/ (namespace "consultations").
room_urlpatterns = [
    path("<int:pk>/room/", doctor_room_view, name="room"),
    path("<int:pk>/room/token/", doctor_livekit_token_view, name="room-token"),
]

# At the site root, beside the patient's landing page /p/<token>.
patient_room_urlpatterns = [
    path("p/<str:token>/consent/", patient_consent_view, name="patient-consent"),
    path("p/<str:token>/room/", patient_room_view, name="patient-room"),
    path("p/<str:token>/room/token/", patient_livekit_token_view, name="patient-room-token"),
    path("p/<str:token>/end/", patient_end_view, name="patient-room-end"),
]

# Under /api/v1/.
consent_api_urlpatterns = [
    path("consultations/<int:pk>/consent/", ConsultationConsentAPI.as_view(), name="api-consultation-consent"),
]
