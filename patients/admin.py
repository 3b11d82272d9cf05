"""Admin for clinics, doctors and patients.

Patient writes go through patients.services (so every change writes its audit row), and opening a
patient's change page is a read of the record, audited as `patient.viewed` (via="admin").
"""
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin import ListAuditAdminMixin
from audit.services import AuditContext

from . import services
from .models import Clinic, Doctor, Patient
from .selectors import clinic_for_user
from .validators import cpf_normalize, phone_normalize


class ClinicScopedAdminMixin:
    """Staff who are doctors see only their own clinic's records; superusers see every clinic."""

    clinic_lookup = "clinic"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        clinic = clinic_for_user(request.user)
        return qs.filter(**{self.clinic_lookup: clinic}) if clinic else qs


class DoctorInline(admin.StackedInline):
    model = Doctor
    can_delete = False
    verbose_name_plural = _("doctor profile")
    fk_name = "user"


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Django's user admin with the doctor profile inline, so one page onboards a doctor."""

    inlines = [DoctorInline]
    list_display = (*BaseUserAdmin.list_display, "doctor_clinic")
    list_select_related = ("doctor__clinic",)

    @admin.display(description=_("clinic"), ordering="doctor__clinic__name")
    def doctor_clinic(self, obj):
        doctor = getattr(obj, "doctor", None)
        return doctor.clinic if doctor else "-"


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "created_at")
    search_fields = ("name", "address")
    list_filter = (("created_at", admin.DateFieldListFilter),)


@admin.register(Doctor)
class DoctorAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "user", "crm_display", "specialty", "clinic")
    list_filter = ("clinic", "crm_uf", "specialty")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email", "crm", "specialty")
    list_select_related = ("user", "clinic")
    autocomplete_fields = ("user", "clinic")


class PatientAdminForm(forms.ModelForm):
    """Accepts CPF and phone typed with punctuation (the model stores them normalized)."""

    cpf = forms.CharField(label=_("CPF"), max_length=20, required=False)
    phone = forms.CharField(label=_("phone"), max_length=30, required=False, help_text=Patient._meta.get_field("phone").help_text)

    class Meta:
        model = Patient
        fields = ("clinic", "full_name", "cpf", "birth_date", "phone", "email", "notes")

    def clean_cpf(self):
        return cpf_normalize(self.cleaned_data.get("cpf") or "")

    def clean_phone(self):
        return phone_normalize(self.cleaned_data.get("phone") or "")

    def clean(self):
        # The services check these too, but an error raised in save_model would be a 500 page;
        # checked here, the admin shows it next to the field (same messages as the service).
        cleaned = super().clean()
        birth_date = cleaned.get("birth_date")
        if birth_date and birth_date > timezone.localdate():
            self.add_error("birth_date", gettext("The birth date cannot be in the future."))
        clinic = cleaned.get("clinic") or getattr(self.instance, "clinic", None)
        cpf = cleaned.get("cpf")
        if clinic and cpf and Patient.objects.filter(clinic=clinic, cpf=cpf).exclude(pk=self.instance.pk).exists():
            self.add_error("cpf", gettext("A patient with this CPF already exists in this clinic."))
        return cleaned


@admin.register(Patient)
class PatientAdmin(ListAuditAdminMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    form = PatientAdminForm
    list_audit_action = "patient.listed"
    list_display = ("full_name", "cpf_display", "birth_date", "phone", "clinic", "created_at")
    list_filter = ("clinic", ("created_at", admin.DateFieldListFilter))
    search_fields = ("full_name", "cpf", "email", "phone")
    list_select_related = ("clinic",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # A patient's record does not move between clinics.
        return ("clinic", "created_at", "updated_at") if obj else ()

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        digits = cpf_normalize(search_term)
        if len(digits) >= 3 and not any(c.isalpha() for c in search_term):
            # "529.982.247-25" finds the stored "52998224725".
            queryset |= self.get_queryset(request).filter(cpf__contains=digits)
        return queryset, may_have_duplicates

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            patient = self.get_object(request, object_id)
            if patient is not None:
                services.patient_record_view(ctx=AuditContext.from_request(request), patient=patient, via="admin")
        return response

    def save_model(self, request, obj, form, change):
        ctx = AuditContext.from_request(request)
        fields = [f for f in services.PATIENT_FIELDS if f in form.cleaned_data]
        if change:
            # `obj` already carries the new values; the service compares against the stored row.
            stored = Patient.objects.get(pk=obj.pk)
            changed = {f: form.cleaned_data[f] for f in fields if f in form.changed_data}
            saved = services.patient_update(ctx=ctx, patient=stored, **changed)
        else:
            saved = services.patient_create(
                ctx=ctx, clinic=form.cleaned_data["clinic"], **{f: form.cleaned_data[f] for f in fields}
            )
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db

    def delete_model(self, request, obj):
        services.patient_delete(ctx=AuditContext.from_request(request), patient=obj)

    def delete_queryset(self, request, queryset):
        ctx = AuditContext.from_request(request)
        for patient in queryset:
            services.patient_delete(ctx=ctx, patient=patient)
