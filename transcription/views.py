"""Doctor pages of the transcription: the in-person capture page, the transcript panel fragment and
the plain-text download. Thin: access helper, one selector/service call, render."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit.services import AuditContext
from consultations.selectors import consent_current, consultation_get
from patients.views import doctor_required

from . import selectors, services
from .models import Speaker


def _panel_context(consultation):
    return {
        "consultation": consultation,
        "segments": selectors.transcript_segments(consultation=consultation),
        "pending": selectors.transcript_pending(consultation=consultation),
        "speaker_labels": dict(Speaker.choices),
    }


@require_GET
@doctor_required
def in_person_view(request, pk: int):
    """One microphone in the room (speaker `unknown`, with a doctor/patient toggle)."""
    consultation = consultation_get(user=request.user, pk=pk)
    services.transcript_record_view(ctx=AuditContext.from_request(request), consultation=consultation,
                                    via="in_person_page")
    consent = consent_current(consultation_id=consultation.pk)
    context = _panel_context(consultation)
    context.update(
        consent=consent,
        consented=bool(consent and consent.transcription),
        is_own=consultation.doctor.user_id == request.user.pk,
        capture_texts={
            "on": _("Transcription on"), "paused": _("Transcription paused"), "off": _("Transcription off"),
            "connecting": _("Connecting…"), "pause": _("Pause"), "resume": _("Resume"),
            "mic_error": _("The microphone could not be opened. Allow microphone access in the browser and try again."),
        },
    )
    return render(request, "transcription/in_person.html", context)


@require_POST
@doctor_required
def in_person_consent_view(request, pk: int):
    """The doctor records, in the room, the patient's spoken consent to transcription."""
    from consultations.room_services import consent_record

    consultation = consultation_get(user=request.user, pk=pk)
    if request.POST.get("transcription") != "yes":
        messages.error(request, _("Tick the box to confirm the patient agreed to the transcription."))
        return redirect("transcription:in-person", pk=consultation.pk)
    consent_record(ctx=AuditContext.from_request(request), consultation=consultation, teleconsultation=False,
                   transcription=True, channel="doctor")
    messages.success(request, _("Consent recorded. You can start the transcription."))
    return redirect("transcription:in-person", pk=consultation.pk)


@require_GET
@doctor_required
def transcript_panel_view(request, pk: int):
    """The full transcript as an htmx fragment (consultation detail page, after the call)."""
    consultation = consultation_get(user=request.user, pk=pk)
    services.transcript_record_view(ctx=AuditContext.from_request(request), consultation=consultation, via="web")
    context = _panel_context(consultation)
    context["live"] = False
    return render(request, "transcription/_panel.html", context)


@require_GET
@doctor_required
def transcript_download_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    services.transcript_record_view(ctx=AuditContext.from_request(request), consultation=consultation,
                                    via="download")
    text = selectors.transcript_as_text(consultation=consultation)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="transcricao-consulta-{consultation.pk}.txt"'
    response["Cache-Control"] = "no-store"
    return response
