"""`manage.py createdoctor`: onboard a doctor (clinic created if new) and print an API token."""
import json
import os
from pathlib import Path

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from audit.services import AuditContext, audit_record
from patients.models import Doctor
from patients.services import doctor_create

PASSWORD_ENV = "MEDCALL_DOCTOR_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a doctor account in a clinic (the clinic is created if new) and an API token for it. "
        "The password comes from --password, --password-file or the MEDCALL_DOCTOR_PASSWORD environment "
        "variable (the last two keep it off the command line and out of the shell history). "
        'With --json, prints {"id", "username", "clinic", "api_token"} (id: the doctor profile).'
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", help="Visible in the process list and shell history: prefer the other two.")
        parser.add_argument("--password-file", type=Path, help="A file whose first line is the password.")
        parser.add_argument("--clinic", required=True, help="Clinic name; created if it does not exist yet.")
        parser.add_argument("--crm", default="", help="CRM number (digits only); needs --uf.")
        parser.add_argument("--uf", default="", help="State of the CRM registration, e.g. SP.")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--specialty", default="")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON (for scripts).")

    def handle(self, *args, **opts):
        password = self._password(opts)
        crm, uf = opts["crm"].strip(), opts["uf"].strip().upper()
        if crm and uf and Doctor.objects.filter(crm=crm, crm_uf=uf).exists():
            raise CommandError(
                _("A doctor with CRM/%(uf)s %(crm)s already exists. Check the number and the state.") % {"uf": uf, "crm": crm}
            )
        ctx = AuditContext.system("createdoctor")
        try:
            with transaction.atomic():
                doctor = doctor_create(
                    ctx=ctx,
                    username=opts["username"],
                    password=password,
                    clinic_name=opts["clinic"],
                    crm=crm,
                    crm_uf=uf,
                    specialty=opts["specialty"],
                    first_name=opts["first_name"],
                    last_name=opts["last_name"],
                    email=opts["email"],
                )
                token = Token.objects.create(user=doctor.user)
                audit_record(ctx=ctx, action="doctor.api_token_created", target=doctor, clinic=doctor.clinic)
        except ValidationError as exc:
            raise CommandError(self._describe(exc))

        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {"id": doctor.pk, "username": doctor.user.username, "clinic": doctor.clinic.name, "api_token": token.key}
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    _("Doctor “%(username)s” created in clinic “%(clinic)s”.")
                    % {"username": doctor.user.username, "clinic": doctor.clinic.name}
                )
            )
            self.stdout.write(_("API token (send it as “Authorization: Token <key>”): %(key)s") % {"key": token.key})

    def _password(self, opts) -> str:
        if opts["password"]:
            password = opts["password"]
        elif opts["password_file"]:
            try:
                password = opts["password_file"].read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as exc:
                raise CommandError(
                    _("Cannot read a password from %(path)s: %(error)s. Check the path and that the file is not empty.")
                    % {"path": opts["password_file"], "error": exc or _("the file is empty")}
                )
        elif os.environ.get(PASSWORD_ENV):
            password = os.environ[PASSWORD_ENV]
        else:
            raise CommandError(
                _("No password given. Use --password-file, the %(env)s environment variable or --password.")
                % {"env": PASSWORD_ENV}
            )
        try:
            validate_password(password)
        except ValidationError as exc:
            raise CommandError(_("The password was refused: %(reasons)s") % {"reasons": " ".join(exc.messages)})
        return password

    @staticmethod
    def _describe(exc: ValidationError) -> str:
        if hasattr(exc, "error_dict"):
            return " ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
