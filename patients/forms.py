"""Patient forms. They only collect and type-convert input: patients.services validates and saves,
and `apply_service_errors` puts the service's messages back on the fields they belong to."""
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def apply_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Attach a service ValidationError to `form`: dict errors on their fields (when the form has
    that field), everything else as a non-field error shown at the top of the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class PatientForm(forms.Form):
    full_name = forms.CharField(
        label=_("Full name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    cpf = forms.CharField(
        label=_("CPF"),
        max_length=20,
        required=False,
        help_text=_("With or without dots and dash, e.g. 529.982.247-25."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        help_text=_("With area code, e.g. (11) 98765-4321."),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "off"}),
    )
    email = forms.CharField(
        label=_("Email"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 4}))

    @classmethod
    def initial_for(cls, patient) -> dict:
        return {
            "full_name": patient.full_name,
            "cpf": patient.cpf_display,
            "birth_date": patient.birth_date,
            "phone": patient.phone,
            "email": patient.email,
            "notes": patient.notes,
        }
