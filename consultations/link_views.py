"""Gerar link: the doctor's panel (htmx), the JSON endpoint, and the patient's landing page."""
from __future__ import annotations

import io
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.core.mail import send_mail
from django.http import Http404
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as http
from rest_framework.decorators import api_view
from rest_framework.response import Response

from audit.services import AuditContext
from patients.selectors import doctor_for_user

from .models import Consultation
from .selectors import consultation_get
from .services import (
    LinkNotAllowed,
    consultation_link_request,
    consultation_link_status,
    patient_link_from_token,
    patient_link_opened,
)


def _get_consultation_for_user(request, pk) -> Consultation:
    if doctor_for_user(request.user) is None:
        raise Http404
    return consultation_get(user=request.user, pk=pk)


def _whatsapp_url(consultation: Consultation, url: str) -> str:
    text = _(
        "Hello, %(first_name)s! This is the link to your teleconsultation with %(doctor)s: %(url)s"
    ) % {"first_name": consultation.patient.first_name, "doctor": consultation.doctor.display_name, "url": url}
    return "https://wa.me/?text=" + quote(text)


def qr_svg(url: str) -> str:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode("utf-8")


def _panel_context(consultation: Consultation, state: dict, error: str = "") -> dict:
    ctx = {"consultation": consultation, "link": state, "error": error}
    if state.get("status") == "ready":
        from tunnels.media_path import media_path
        from tunnels.services import public_endpoint_get

        ctx["media"] = media_path(public_endpoint_get().provider)
        ctx["expires_at"] = parse_datetime(state["expires_at"])
        ctx["whatsapp_url"] = _whatsapp_url(consultation, state["url"])
        ctx["qr_svg"] = qr_svg(state["url"])
    return ctx


@login_required
@require_POST
def link_generate(request, pk):
    """htmx: issue a link and return the panel (ready at once, or the live start-up steps)."""
    consultation = _get_consultation_for_user(request, pk)
    try:
        state = consultation_link_request(ctx=AuditContext.from_request(request), consultation=consultation)
    except LinkNotAllowed as exc:
        return render(request, "consultations/_link_panel.html", _panel_context(consultation, {"status": "none"}, str(exc)), status=409)
    return render(request, "consultations/_link_panel.html", _panel_context(consultation, state))


@login_required
@require_GET
@never_cache
def link_panel(request, pk):
    """htmx polling fallback: the panel as it is now."""
    consultation = _get_consultation_for_user(request, pk)
    return render(request, "consultations/_link_panel.html", _panel_context(consultation, consultation_link_status(consultation=consultation)))


@login_required
@require_POST
def link_email(request, pk):
    """Send the current link to the patient's e-mail (Django e-mail backend)."""
    consultation = _get_consultation_for_user(request, pk)
    state = consultation_link_status(consultation=consultation)
    error = ""
    sent = False
    email = consultation.patient.email
    if state.get("status") != "ready":
        error = _("The link is not ready yet.")
    elif not email:
        error = _("This patient has no e-mail address. Add one on the patient's page or share the link another way.")
    else:
        body = _(
            "Hello, %(first_name)s!\n\nYour teleconsultation with %(doctor)s (%(clinic)s) is ready. "
            "Open this link on your phone at the time of the consultation:\n\n%(url)s\n\n"
            "The link is personal: do not share it."
        ) % {
            "first_name": consultation.patient.first_name,
            "doctor": consultation.doctor.display_name,
            "clinic": consultation.clinic.name,
            "url": state["url"],
        }
        send_mail(_("Your teleconsultation link"), body, None, [email], fail_silently=False)
        sent = True
    ctx = _panel_context(consultation, state, error)
    ctx["email_sent"] = sent
    return render(request, "consultations/_link_panel.html", ctx, status=200 if sent else 409)


class _LinkStepSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=["livekit", "web", "tunnel", "verify"])
    state = serializers.ChoiceField(choices=["pending", "running", "ok", "failed", "skipped"])
    message = serializers.CharField()


class _LinkResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "preparing"])
    url = serializers.URLField(required=False, help_text="Present when status is ready.")
    expires_at = serializers.DateTimeField(required=False, help_text="Present when status is ready.")
    steps = _LinkStepSerializer(many=True, required=False, help_text="Present when status is preparing.")


class _DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema(
    operation_id="consultations_link_create",
    request=None,
    responses={200: _LinkResponseSerializer, 404: _DetailSerializer, 409: _DetailSerializer},
    description="Generate the patient's link. Ready: the link at once. Not ready: the start-up steps; "
    "the link is pushed to the consultation page when the tunnel is verified.",
)
@api_view(["POST"])
def api_link_generate(request, pk):
    """POST /api/v1/consultations/<id>/link/ → ready {url, expires_at} or preparing {steps}."""
    if doctor_for_user(request.user) is None:
        return Response({"detail": _("Only doctors can generate links.")}, status=http.HTTP_403_FORBIDDEN)
    consultation = consultation_get(user=request.user, pk=pk)
    try:
        body = consultation_link_request(ctx=AuditContext.from_request(request), consultation=consultation)
    except LinkNotAllowed as exc:
        return Response({"detail": str(exc)}, status=http.HTTP_409_CONFLICT)
    return Response(body, status=http.HTTP_200_OK)


@require_GET
@never_cache
def patient_landing(request, token):
    """/p/<token>: the patient's entry page. Tampered → 404; expired/revoked → 410. Shows only the
    clinic, the doctor and the patient's first name."""
    link = patient_link_from_token(token)
    if link is None:
        return render(request, "patient_link/invalid.html", status=404)
    state = link.state()
    if state != "valid":
        return render(request, "patient_link/gone.html", {"reason": state}, status=410)
    patient_link_opened(ctx=AuditContext(ip=request.META.get("REMOTE_ADDR"), user_agent=request.META.get("HTTP_USER_AGENT", "")[:300], label="patient-link"), link=link)
    consultation = link.consultation
    response = render(
        request,
        "patient_link/landing.html",
        {
            "clinic_name": consultation.clinic.name,
            "doctor_name": consultation.doctor.display_name,
            "first_name": consultation.patient.first_name,
            "scheduled_for": consultation.scheduled_for,
            "token": token,
        },
    )
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to other sites
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


