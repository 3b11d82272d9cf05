"""`manage.py seeddemo`: a demo clinic, doctor login, patients and consultations for a local try-out."""
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import AuditContext
from consultations.models import Consultation
from consultations.services import consultation_create
from patients.models import Doctor
from patients.services import doctor_create, patient_create

DEMO_USERNAME = "demo"
DEMO_CLINIC = "Clínica Demonstração MedCall"

# Fictional people; the CPFs are valid (check digits) but made up: see `_cpf_with_check_digits`.
DEMO_PATIENTS = [
    {"full_name": "Maria Aparecida dos Santos", "cpf_base": "529982247", "birth_date": date(1968, 3, 14),
     "phone": "(11) 98765-4321", "email": "maria.santos@example.com"},
    {"full_name": "João Pedro Oliveira", "cpf_base": "111444777", "birth_date": date(1985, 11, 2),
     "phone": "(21) 99876-5432", "email": ""},
    {"full_name": "Ana Beatriz Costa Lima", "cpf_base": "390533447", "birth_date": date(1994, 7, 21),
     "phone": "(31) 3222-4455", "email": "ana.lima@example.com"},
    {"full_name": "Francisco das Chagas Ferreira", "cpf_base": "714602380", "birth_date": date(1952, 1, 30),
     "phone": "(85) 98811-2233", "email": ""},
]


def _cpf_with_check_digits(base9: str) -> str:
    """The 11-digit CPF for 9 base digits (the two check digits computed the official way)."""
    digits = [int(d) for d in base9]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=True))
        digits.append(total * 10 % 11 % 10)
    return "".join(map(str, digits))


def _random_password() -> str:
    # Readable enough to type from the terminal; 12 url-safe characters (~72 bits).
    return secrets.token_urlsafe(9)


class Command(BaseCommand):
    help = (
        "Create demo data for trying MedCall locally: a clinic, a doctor login 'demo' with a random password "
        "(printed), four patients and a few consultations today and tomorrow. Only with DEBUG (and DEMO_DATA) "
        "on. Idempotent: when any doctor exists it changes nothing (use --reset-password for a new demo password)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-password", action="store_true", help="Give the existing demo doctor a new random password."
        )

    def handle(self, *args, **opts):
        if not settings.DEBUG:
            raise CommandError(_("Demo data is only created with DEBUG on; this looks like a real installation."))
        if not settings.DEMO_DATA:
            self.stdout.write(_("DEMO_DATA is off: no demo data created."))
            return

        User = get_user_model()
        demo = User.objects.filter(username=DEMO_USERNAME).first()
        if demo is not None:
            if opts["reset_password"]:
                password = _random_password()
                demo.set_password(password)
                demo.save(update_fields=["password"])
                self._print_login(_("New password for the demo login."), password)
            else:
                self.stdout.write(
                    _("Demo data already exists; log in as “%(username)s” (run with --reset-password for a new password).")
                    % {"username": DEMO_USERNAME}
                )
            return
        if Doctor.objects.exists():
            self.stdout.write(_("Doctors already exist in this database: no demo data created."))
            return

        password = _random_password()
        self._create(password)
        self._print_login(_("Demo data created."), password)

    @transaction.atomic
    def _create(self, password: str) -> None:
        ctx = AuditContext.system("seeddemo")
        doctor = doctor_create(
            ctx=ctx,
            username=DEMO_USERNAME,
            password=password,
            clinic_name=DEMO_CLINIC,
            crm="123456",
            crm_uf="SP",
            specialty="Clínica médica",
            first_name="Helena",
            last_name="Duarte",
            email="demo@example.com",
        )
        # Local demo only (DEBUG): the demo doctor may open the admin to see records and audit rows.
        doctor.user.is_staff = doctor.user.is_superuser = True
        doctor.user.save(update_fields=["is_staff", "is_superuser"])

        patients = [
            patient_create(
                ctx=ctx,
                clinic=doctor.clinic,
                full_name=p["full_name"],
                cpf=_cpf_with_check_digits(p["cpf_base"]),
                birth_date=p["birth_date"],
                phone=p["phone"],
                email=p["email"],
            )
            for p in DEMO_PATIENTS
        ]

        now = timezone.localtime()
        end_of_today = now.replace(hour=23, minute=59, second=0, microsecond=0)
        tomorrow_morning = (now + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
        schedule = [
            (patients[0], min(now + timedelta(minutes=30), end_of_today), Consultation.Type.ONLINE, "Dor de cabeça há 3 dias"),
            (patients[1], min(now + timedelta(hours=2), end_of_today), Consultation.Type.ONLINE, "Retorno: exames de sangue"),
            (patients[2], tomorrow_morning, Consultation.Type.IN_PERSON, "Tosse e febre baixa"),
        ]
        for patient, when, kind, complaint in schedule:
            consultation_create(
                ctx=ctx, doctor=doctor, patient=patient, scheduled_for=when, type=kind, chief_complaint=complaint
            )

    def _print_login(self, headline: str, password: str) -> None:
        self.stdout.write(self.style.SUCCESS(headline))
        self.stdout.write(f"  {_('Login')}:    {DEMO_USERNAME}")
        self.stdout.write(f"  {_('Password')}: {password}")
        self.stdout.write("  " + _("Only for trying MedCall on this computer; never use demo data with real patients."))
