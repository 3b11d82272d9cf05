import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_room_name() -> str:
    # Unguessable and free of personal data: it travels to LiveKit and appears in URLs/logs.
    return "mc-" + secrets.token_hex(10)


class Consultation(models.Model):
    class Type(models.TextChoices):
        ONLINE = "online", _("Online")
        IN_PERSON = "in_person", _("In person")

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("patient"), on_delete=models.PROTECT, related_name="consultations"
    )
    doctor = models.ForeignKey(
        "patients.Doctor", verbose_name=_("doctor"), on_delete=models.PROTECT, related_name="consultations"
    )
    # Denormalized from patient.clinic so every scoped query is one indexed filter.
    clinic = models.ForeignKey(
        "patients.Clinic", verbose_name=_("clinic"), on_delete=models.PROTECT, related_name="consultations"
    )
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.ONLINE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.WAITING, db_index=True)
    room_name = models.CharField(_("room"), max_length=64, unique=True, default=new_room_name, editable=False)
    scheduled_for = models.DateTimeField(_("scheduled for"), db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    chief_complaint = models.CharField(_("chief complaint"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        ordering = ["-scheduled_for", "-id"]
        indexes = [models.Index(fields=["clinic", "scheduled_for"])]

    def __str__(self):
        return f"#{self.pk} {self.get_type_display()} {self.scheduled_for:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.WAITING, self.Status.IN_PROGRESS)


class PatientLink(models.Model):
    """A patient's entry link to one consultation. The URL carries a signed random nonce; the row
    holds expiry and revocation, so a link can be revoked server-side at any time."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="links")
    nonce = models.CharField(max_length=43, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Issued while no verified public URL existed: the doctor is told when it becomes usable.
    pending = models.BooleanField(default=False)
    first_opened_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("patient link")
        verbose_name_plural = _("patient links")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["consultation", "revoked_at"])]

    def __str__(self):
        return f"link #{self.pk} consultation #{self.consultation_id}"

    def state(self, now=None) -> str:
        from django.utils import timezone

        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "valid"


class ConsentRecord(models.Model):
    """Consent for one consultation (CFM Resolution 2.314/2022, LGPD). Append-only; the latest
    record is the one in force. Transcription never starts without `transcription=True`."""

    class Channel(models.TextChoices):
        PATIENT_LINK = "patient_link", _("Patient, through the link")
        DOCTOR = "doctor", _("Recorded by the doctor (in person or by phone)")

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="consents")
    teleconsultation = models.BooleanField(_("teleconsultation consent"))
    transcription = models.BooleanField(_("recording/transcription consent"))
    text_version = models.CharField(_("consent text version"), max_length=32)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    given_at = models.DateTimeField(_("given at"), auto_now_add=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-given_at", "-id"]

    def __str__(self):
        return f"consent #{self.pk} consultation #{self.consultation_id}"


class CallSession(models.Model):
    """One call of a consultation: who is present, whether the patient was admitted, when it ran.

    p2p calls get a session when the first participant joins the room; LiveKit calls are also
    updated by the LiveKit webhook (meeting_id = the LiveKit room sid). Presence is kept here, not
    in memory, so every ASGI process and a reloaded page see the same state."""

    class Mode(models.TextChoices):
        P2P = "p2p", _("Peer-to-peer")
        LIVEKIT = "livekit", _("LiveKit")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    class Presence(models.TextChoices):
        ABSENT = "absent", _("Not here yet")
        OPENED = "opened", _("Opened the link")
        WAITING = "waiting", _("In the waiting room")
        CONNECTED = "connected", _("Connected")
        RECONNECTING = "reconnecting", _("Reconnecting")
        LEFT = "left", _("Left")

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="call_sessions")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.P2P)
    # LiveKit room sid; null for p2p calls and for a LiveKit call whose room_started is not in yet.
    meeting_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    room_name = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    doctor_presence = models.CharField(max_length=16, choices=Presence.choices, default=Presence.ABSENT)
    patient_presence = models.CharField(max_length=16, choices=Presence.choices, default=Presence.ABSENT)
    presence_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("call session")
        verbose_name_plural = _("call sessions")
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"call #{self.pk} consultation #{self.consultation_id} ({self.mode}, {self.status})"


class LiveKitWebhookDelivery(models.Model):
    """Ids of processed LiveKit webhook events: a redelivered event is acknowledged and skipped."""

    event_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.event} {self.event_id}"
