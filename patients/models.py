from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .validators import cpf_format, validate_cpf

UF_CHOICES = [
    (uf, uf)
    for uf in (
        "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split()
    )
]


class Clinic(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("clinic")
        verbose_name_plural = _("clinics")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Doctor(models.Model):
    """A doctor's professional profile; the login is the linked user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="doctor"
    )
    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="doctors")
    crm = models.CharField(
        _("CRM"), max_length=10, blank=True, validators=[RegexValidator(r"^\d{1,10}$", _("Enter only the digits of the CRM number."))]
    )
    crm_uf = models.CharField(_("CRM state (UF)"), max_length=2, blank=True, choices=UF_CHOICES)
    specialty = models.CharField(_("specialty"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("doctor")
        verbose_name_plural = _("doctors")
        ordering = ["user__first_name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["crm", "crm_uf"], condition=~Q(crm=""), name="doctor_crm_uf_unique"
            )
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def crm_display(self) -> str:
        return f"CRM/{self.crm_uf} {self.crm}" if self.crm else ""


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="patients")
    full_name = models.CharField(_("full name"), max_length=200)
    # Stored normalized (11 digits). Blank is allowed (newborns, foreigners), unique when present.
    cpf = models.CharField(_("CPF"), max_length=11, blank=True, validators=[validate_cpf])
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=16, blank=True, help_text=_("E.164 format, e.g. +5511987654321"))
    email = models.EmailField(_("email"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["full_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "cpf"], condition=~Q(cpf=""), name="patient_cpf_unique_per_clinic")
        ]
        indexes = [models.Index(fields=["clinic", "full_name"])]

    def __str__(self):
        return self.full_name

    @property
    def first_name(self) -> str:
        return (self.full_name or "").split(" ")[0]

    @property
    def cpf_display(self) -> str:
        return cpf_format(self.cpf) if self.cpf else ""
