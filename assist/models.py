"""What the assistant adds to a consultation: follow-up question suggestions, the SOAP note (with
its versions) and the accounting of every AI call (transcription, suggestions, note drafting).

Suggestions, notes and usage are health-data-adjacent: they belong to a consultation and are only
read through `selectors.py` (clinic-scoped) and written through `services.py` (audited).
"""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AssistPreference(models.Model):
    """Per-consultation switch: the doctor may turn suggestions off for one consultation."""

    consultation = models.OneToOneField(
        "consultations.Consultation", on_delete=models.CASCADE, related_name="assist_preference"
    )
    suggestions_enabled = models.BooleanField(_("suggestions on"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("assistant preference")
        verbose_name_plural = _("assistant preferences")

    def __str__(self):
        return f"assist preference consultation #{self.consultation_id}"


class Suggestion(models.Model):
    class Status(models.TextChoices):
        SHOWN = "shown", _("Shown")
        ASKED = "asked", _("Asked")
        DISMISSED = "dismissed", _("Dismissed")

    consultation = models.ForeignKey(
        "consultations.Consultation", on_delete=models.CASCADE, related_name="suggestions"
    )
    # Stable id of the question: "<complaint>.<item>" for the local engine, "llm.<hash>" for the LLM.
    # One row per key and consultation: a question is never suggested twice.
    key = models.CharField(max_length=120)
    text = models.CharField(_("question"), max_length=500)
    text_en = models.CharField(max_length=500, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    reason_en = models.CharField(max_length=500, blank=True)
    topic = models.CharField(_("topic"), max_length=32, blank=True)
    complaint = models.CharField(_("complaint"), max_length=64, blank=True)
    red_flag = models.BooleanField(_("red flag"), default=False)
    # Which engine produced it, e.g. "local", "llm:gpt-4o-mini", "local (llm fallback: timeout)".
    source = models.CharField(_("source"), max_length=120)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SHOWN)
    # Shown suggestions drop off the list (without a status change) when better ones outrank them.
    active = models.BooleanField(default=True)
    rank = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Null with a status change: covered in the conversation itself (asked or answered aloud).
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("suggestion")
        verbose_name_plural = _("suggestions")
        ordering = ["consultation", "rank", "id"]
        constraints = [models.UniqueConstraint(fields=["consultation", "key"], name="assist_suggestion_unique_key")]

    def __str__(self):
        return f"suggestion {self.key} consultation #{self.consultation_id} {self.status}"


class ConsultationNote(models.Model):
    """The consultation note in SOAP form; the current text. Every save adds a `NoteVersion`."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        FINAL = "final", _("Final")

    consultation = models.OneToOneField("consultations.Consultation", on_delete=models.CASCADE, related_name="note")
    subjective = models.TextField(_("subjective"), blank=True)
    objective = models.TextField(_("objective"), blank=True)
    assessment = models.TextField(_("assessment"), blank=True)
    plan = models.TextField(_("plan"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(_("version"), default=1)
    source = models.CharField(_("draft source"), max_length=120, blank=True)
    finalized_at = models.DateTimeField(_("finalized at"), null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SECTIONS = ("subjective", "objective", "assessment", "plan")

    class Meta:
        verbose_name = _("consultation note")
        verbose_name_plural = _("consultation notes")

    def __str__(self):
        return f"note consultation #{self.consultation_id} v{self.version} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status == self.Status.FINAL


class NoteVersion(models.Model):
    note = models.ForeignKey(ConsultationNote, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    subjective = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ConsultationNote.Status.choices)
    source = models.CharField(max_length=120, blank=True)  # draft engine, or "doctor"
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("note version")
        verbose_name_plural = _("note versions")
        ordering = ["note", "-number"]
        constraints = [models.UniqueConstraint(fields=["note", "number"], name="assist_noteversion_unique_number")]

    def __str__(self):
        return f"note #{self.note_id} v{self.number}"


class AIUsage(models.Model):
    """One call to an AI engine (speech-to-text, suggestions, note draft) and what it cost."""

    class Kind(models.TextChoices):
        TRANSCRIPTION = "transcription", _("Transcription")
        SUGGESTIONS = "suggestions", _("Suggestions")
        NOTE = "note", _("Note draft")

    consultation = models.ForeignKey(
        "consultations.Consultation", null=True, blank=True, on_delete=models.SET_NULL, related_name="ai_usage"
    )
    # Kept beside the consultation so totals per doctor/clinic survive a deleted consultation.
    doctor = models.ForeignKey("patients.Doctor", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    clinic = models.ForeignKey("patients.Clinic", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    engine = models.CharField(_("engine"), max_length=32)  # faster_whisper | openai | local | llm
    model = models.CharField(_("model"), max_length=120, blank=True)
    ok = models.BooleanField(_("succeeded"), default=True)
    audio_seconds = models.FloatField(_("audio seconds"), default=0)
    tokens_in = models.PositiveIntegerField(_("tokens in"), default=0)
    tokens_out = models.PositiveIntegerField(_("tokens out"), default=0)
    compute_seconds = models.FloatField(_("compute seconds"), default=0)
    cost = models.DecimalField(_("estimated cost"), max_digits=12, decimal_places=6, default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("AI usage")
        verbose_name_plural = _("AI usage")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["clinic", "created_at"])]

    def __str__(self):
        return f"{self.kind} {self.engine} {self.created_at:%Y-%m-%d %H:%M}"
