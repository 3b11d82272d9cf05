"""Doctor UI for patients: list/search, detail (audited read), create and edit."""
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from audit.services import AuditContext
from consultations.selectors import consultation_list

from . import services
from .forms import PatientForm, apply_service_errors
from .selectors import doctor_for_user, patient_get, patient_list

PATIENTS_PER_PAGE = 25


def doctor_required(view):
    """Login required, and the user must have a Doctor profile (the clinic scope of every page).

    A bare superuser or staff account without a profile gets a page explaining what is missing
    instead of empty lists or a crash. The profile is available as `request.doctor`.
    """

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        doctor = doctor_for_user(request.user)
        if doctor is None:
            return render(request, "doctor_required.html", status=403)
        request.doctor = doctor
        return view(request, *args, **kwargs)

    return wrapper


def is_htmx(request) -> bool:
    # A history-restore request wants the full page, not the fragment.
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


@doctor_required
@require_http_methods(["GET"])
@vary_on_headers("HX-Request")
def patient_list_view(request):
    search = request.GET.get("q", "").strip()
    page = Paginator(patient_list(user=request.user, search=search), PATIENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    services.patient_record_list(
        ctx=AuditContext.from_request(request), clinic=request.doctor.clinic, patients=page.object_list,
        via="web", searched=bool(search),
    )
    ctx = {"page": page, "search": search}
    template = "patients/_list_results.html" if is_htmx(request) else "patients/list.html"
    return render(request, template, ctx)


@doctor_required
@require_http_methods(["GET"])
def patient_detail_view(request, pk: int):
    patient = patient_get(user=request.user, pk=pk)
    services.patient_record_view(ctx=AuditContext.from_request(request), patient=patient, via="web")
    consultations = consultation_list(user=request.user, patient_id=patient.pk).order_by("-scheduled_for", "-id")
    return render(request, "patients/detail.html", {"patient": patient, "consultations": consultations})


@doctor_required
@require_http_methods(["GET", "POST"])
def patient_create_view(request):
    form = PatientForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(
                ctx=AuditContext.from_request(request), clinic=request.doctor.clinic, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Patient registered."))
            return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/form.html", {"form": form, "patient": None})


@doctor_required
@require_http_methods(["GET", "POST"])
def patient_edit_view(request, pk: int):
    patient = patient_get(user=request.user, pk=pk)
    form = PatientForm(request.POST if request.method == "POST" else None, initial=PatientForm.initial_for(patient))
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(ctx=AuditContext.from_request(request), patient=patient, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Patient details saved."))
            return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/form.html", {"form": form, "patient": patient})
