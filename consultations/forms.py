"""Consultation forms: they collect and type-convert input; consultations.services validates and
saves (errors come back through patients.forms.apply_service_errors)."""
from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patients.selectors import patient_list

from .models import Consultation

# What <input type="datetime-local"> sends, plus the formats a person may type without JS.
DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
DATETIME_INPUT_FORMATS = [DATETIME_LOCAL_FORMAT, "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M"]


def next_quarter_hour():
    """A sensible default appointment time: the next quarter hour, local time."""
    now = timezone.localtime().replace(second=0, microsecond=0)
    return now + timedelta(minutes=15 - now.minute % 15)


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.full_name} — {obj.cpf_display}" if obj.cpf else obj.full_name


class ConsultationFieldsMixin(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=Consultation.Type.choices, initial=Consultation.Type.ONLINE)
    scheduled_for = forms.DateTimeField(
        label=_("Scheduled for"),
        input_formats=DATETIME_INPUT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL_FORMAT),
    )
    chief_complaint = forms.CharField(
        label=_("Chief complaint"),
        max_length=300,
        required=False,
        help_text=_("In the patient's words, e.g. “headache for three days”."),
    )


class ConsultationCreateForm(ConsultationFieldsMixin):
    field_order = ["patient", "type", "scheduled_for", "chief_complaint"]

    patient = PatientChoiceField(
        label=_("Patient"),
        queryset=None,
        empty_label=_("Choose a patient"),
        error_messages={"invalid_choice": _("Choose a patient of your clinic from the list.")},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the doctor's own clinic: another clinic's patient id is simply not a valid choice.
        self.fields["patient"].queryset = patient_list(user=user)
        self.fields["scheduled_for"].initial = next_quarter_hour


class ConsultationEditForm(ConsultationFieldsMixin):
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 6}))

    @classmethod
    def initial_for(cls, consultation) -> dict:
        return {
            "type": consultation.type,
            "scheduled_for": timezone.localtime(consultation.scheduled_for),
            "chief_complaint": consultation.chief_complaint,
            "notes": consultation.notes,
        }
