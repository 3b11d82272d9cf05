"""Doctor UI for consultations: dashboard, create, detail (audited read), edit, status actions."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from audit.services import AuditContext
from patients.forms import apply_service_errors
from patients.selectors import patient_get
from patients.views import doctor_required

from . import services
from .forms import ConsultationCreateForm, ConsultationEditForm
from .models import Consultation
from .selectors import consultation_get, consultations_for_dashboard

S = Consultation.Status

# Button text and style for each target status of the status actions on the detail page.
STATUS_ACTIONS = {
    S.IN_PROGRESS: (gettext_lazy("Start consultation"), "primary"),
    S.COMPLETED: (gettext_lazy("Complete consultation"), "primary"),
    S.CANCELLED: (gettext_lazy("Cancel consultation"), "danger"),
}
STATUS_DONE_MESSAGES = {
    S.IN_PROGRESS: gettext_lazy("Consultation started."),
    S.COMPLETED: gettext_lazy("Consultation completed."),
    S.CANCELLED: gettext_lazy("Consultation cancelled."),
}


@doctor_required
@require_http_methods(["GET"])
def dashboard_view(request):
    lists = {name: list(qs) for name, qs in consultations_for_dashboard(user=request.user).items()}
    services.consultation_record_list(
        ctx=AuditContext.from_request(request), clinic=request.doctor.clinic,
        consultations=[c for rows in lists.values() for c in rows], via="dashboard",
    )
    return render(request, "dashboard.html", lists)


@doctor_required
@require_http_methods(["GET", "POST"])
def consultation_create_view(request):
    initial = {}
    preselected = None
    if request.GET.get("patient"):
        # Coming from a patient page: another clinic's patient id is a 404, as everywhere else.
        preselected = patient_get(user=request.user, pk=request.GET["patient"])
        initial["patient"] = preselected.pk
    form = ConsultationCreateForm(request.POST if request.method == "POST" else None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            consultation = services.consultation_create(
                ctx=AuditContext.from_request(request), doctor=request.doctor, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Consultation scheduled."))
            return redirect("consultations:detail", pk=consultation.pk)
    return render(request, "consultations/create.html", {"form": form, "preselected": preselected})


@doctor_required
@require_http_methods(["GET"])
def consultation_detail_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    services.consultation_record_view(ctx=AuditContext.from_request(request), consultation=consultation, via="web")
    actions = [
        {"to": to, "label": label, "style": style}
        for to, (label, style) in STATUS_ACTIONS.items()
        if to in services.TRANSITIONS[consultation.status]
    ]
    return render(request, "consultations/detail.html", {"consultation": consultation, "actions": actions})


@doctor_required
@require_http_methods(["GET", "POST"])
def consultation_edit_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    form = ConsultationEditForm(
        request.POST if request.method == "POST" else None, initial=ConsultationEditForm.initial_for(consultation)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_update(
                ctx=AuditContext.from_request(request), consultation=consultation, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Consultation saved."))
            return redirect("consultations:detail", pk=consultation.pk)
    return render(request, "consultations/edit.html", {"form": form, "consultation": consultation})


@doctor_required
@require_POST
def consultation_transition_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    to = request.POST.get("to", "")
    try:
        services.consultation_transition(ctx=AuditContext.from_request(request), consultation=consultation, to=to)
    except services.InvalidTransition as exc:
        # Nothing changed; say why and leave the doctor on the page with the actions that are legal now.
        messages.error(request, _("%(reason)s Nothing was changed.") % {"reason": exc.message})
    else:
        messages.success(request, STATUS_DONE_MESSAGES[to])
    return redirect("consultations:detail", pk=consultation.pk)
