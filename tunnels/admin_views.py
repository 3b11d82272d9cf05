"""Django admin page "Status dos serviços": every service's state, the public URL, "check now",
"restart tunnel" and link generation for a chosen consultation."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.services import AuditContext
from consultations.models import Consultation
from consultations.services import LinkNotAllowed, consultation_link_request

from .media_path import media_path
from .orchestrator import link_steps, orchestrator_request
from .services import public_endpoint_get, service_status_all


class LinkForm(forms.Form):
    consultation = forms.ModelChoiceField(
        label=gettext_lazy("Consultation"),
        queryset=Consultation.objects.filter(
            type=Consultation.Type.ONLINE, status__in=[Consultation.Status.WAITING, Consultation.Status.IN_PROGRESS]
        ).select_related("doctor__user", "clinic").order_by("scheduled_for"),
    )


def service_status_page(request):
    link_result = None
    form = LinkForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "check":
            orchestrator_request("check")
            messages.info(request, _("Check requested; this page updates when it finishes."))
            return redirect("admin-service-status")
        if action == "restart_tunnel":
            orchestrator_request("restart_tunnel")
            messages.info(request, _("Tunnel restart requested."))
            return redirect("admin-service-status")
        if action == "link":
            form = LinkForm(request.POST)
            if form.is_valid():
                try:
                    link_result = consultation_link_request(
                        ctx=AuditContext.from_request(request), consultation=form.cleaned_data["consultation"]
                    )
                except LinkNotAllowed as exc:
                    form.add_error("consultation", str(exc))
    endpoint = public_endpoint_get()
    context = {
        **admin.site.each_context(request),
        "media": media_path(endpoint.provider),
        "title": _("Service status"),
        "services": service_status_all(),
        "endpoint": endpoint,
        "steps": link_steps(),
        "form": form,
        "link_result": link_result,
    }
    return render(request, "admin/tunnels/service_status.html", context)


def admin_urls():
    return [path("admin/services/", admin.site.admin_view(service_status_page), name="admin-service-status")]
