"""Admin for consultations.

Writes go through consultations.services (audited). The status is never edited as a field: the
"start / complete / cancel" actions call `consultation_transition`, which refuses illegal moves.
Consultations are part of the medical record and are not deleted.
"""
from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from audit.admin import ListAuditAdminMixin
from audit.services import AuditContext
from patients.admin import ClinicScopedAdminMixin

from . import services
from .models import Consultation


class ConsultationAdminForm(forms.ModelForm):
    class Meta:
        model = Consultation
        fields = ("patient", "doctor", "type", "scheduled_for", "chief_complaint", "notes")

    def clean(self):
        # Same rules as the services, checked here so the admin shows them next to the fields
        # instead of failing in save_model.
        cleaned = super().clean()
        patient, doctor = cleaned.get("patient"), cleaned.get("doctor")
        if patient and doctor and patient.clinic_id != doctor.clinic_id:
            self.add_error("patient", gettext("Patient not found in this clinic."))
        if self.instance.pk and not self.instance_was_open and {"type", "scheduled_for"} & set(self.changed_data):
            raise forms.ValidationError(gettext("A completed or cancelled consultation cannot be rescheduled."))
        return cleaned

    @property
    def instance_was_open(self) -> bool:
        return Consultation.objects.filter(pk=self.instance.pk, status__in=["waiting", "in_progress"]).exists()


@admin.register(Consultation)
class ConsultationAdmin(ListAuditAdminMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    form = ConsultationAdminForm
    list_audit_action = "consultation.listed"
    list_display = ("id", "scheduled_for", "patient", "doctor", "type", "status", "clinic")
    list_filter = ("status", "type", "clinic", ("scheduled_for", admin.DateFieldListFilter))
    search_fields = ("patient__full_name", "patient__cpf", "doctor__user__username", "doctor__user__last_name", "room_name")
    list_select_related = ("patient", "doctor__user", "clinic")
    date_hierarchy = "scheduled_for"
    autocomplete_fields = ("patient", "doctor")
    actions = ["start_consultations", "complete_consultations", "cancel_consultations"]

    def get_readonly_fields(self, request, obj=None):
        always = ("status", "started_at", "ended_at", "room_name", "clinic")
        # Patient and doctor are fixed once scheduled: create a new consultation instead.
        return (*always, "patient", "doctor") if obj else always

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            consultation = self.get_object(request, object_id)
            if consultation is not None:
                services.consultation_record_view(
                    ctx=AuditContext.from_request(request), consultation=consultation, via="admin"
                )
        return response

    def save_model(self, request, obj, form, change):
        ctx = AuditContext.from_request(request)
        data = form.cleaned_data
        if change:
            stored = Consultation.objects.get(pk=obj.pk)
            changed = {f: data[f] for f in services.CONSULTATION_FIELDS if f in form.changed_data}
            saved = services.consultation_update(ctx=ctx, consultation=stored, **changed)
        else:
            saved = services.consultation_create(
                ctx=ctx,
                doctor=data["doctor"],
                patient=data["patient"],
                scheduled_for=data["scheduled_for"],
                type=data["type"],
                chief_complaint=data.get("chief_complaint", ""),
                notes=data.get("notes", ""),
            )
        obj.pk = saved.pk
        obj.clinic_id = saved.clinic_id
        obj.room_name = saved.room_name
        obj._state.adding = False
        obj._state.db = saved._state.db

    def _transition(self, request, queryset, to: str):
        ctx = AuditContext.from_request(request)
        moved = 0
        for consultation in queryset:
            try:
                services.consultation_transition(ctx=ctx, consultation=consultation, to=to)
                moved += 1
            except services.InvalidTransition as exc:
                self.message_user(request, f"#{consultation.pk}: {exc.message}", level=messages.WARNING)
        if moved:
            label = Consultation.Status(to).label
            self.message_user(
                request,
                ngettext(
                    "%(count)d consultation moved to “%(status)s”.",
                    "%(count)d consultations moved to “%(status)s”.",
                    moved,
                )
                % {"count": moved, "status": label},
                level=messages.SUCCESS,
            )

    @admin.action(description=_("Start the selected consultations"))
    def start_consultations(self, request, queryset):
        self._transition(request, queryset, Consultation.Status.IN_PROGRESS)

    @admin.action(description=_("Complete the selected consultations"))
    def complete_consultations(self, request, queryset):
        self._transition(request, queryset, Consultation.Status.COMPLETED)

    @admin.action(description=_("Cancel the selected consultations"))
    def cancel_consultations(self, request, queryset):
        self._transition(request, queryset, Consultation.Status.CANCELLED)
