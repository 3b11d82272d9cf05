"""Transcript of a consultation: saved segments, and utterances still waiting for their text.

An utterance's audio lives as a WAV under RECORDINGS_DIR until its segment is saved; then the
`Utterance` row and the WAV are deleted in the same step, so nothing is lost and nothing lingers.
"""
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Speaker(models.TextChoices):
    DOCTOR = "doctor", _("Doctor")
    PATIENT = "patient", _("Patient")
    UNKNOWN = "unknown", _("Unknown speaker")


class TranscriptSegment(models.Model):
    consultation = models.ForeignKey(
        "consultations.Consultation", on_delete=models.CASCADE, related_name="transcript_segments"
    )
    # The utterance this text came from: makes saving idempotent when a task runs twice.
    utterance_key = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    speaker = models.CharField(_("speaker"), max_length=16, choices=Speaker.choices)
    text = models.TextField(_("text"))
    start_ms = models.PositiveIntegerField(_("start (ms)"), help_text=_("From the start of the consultation."))
    end_ms = models.PositiveIntegerField(_("end (ms)"))
    language = models.CharField(_("language"), max_length=8, blank=True)
    engine = models.CharField(_("engine"), max_length=32)
    avg_logprob = models.FloatField(_("average log-probability"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("transcript segment")
        verbose_name_plural = _("transcript segments")
        ordering = ["consultation", "start_ms", "id"]
        indexes = [models.Index(fields=["consultation", "start_ms"])]

    def __str__(self):
        return f"segment #{self.pk} consultation #{self.consultation_id} {self.speaker} {self.start_ms}ms"

    @property
    def start_clock(self) -> str:
        seconds = self.start_ms // 1000
        return f"{seconds // 60:02d}:{seconds % 60:02d}"


class Utterance(models.Model):
    """A piece of speech cut by the VAD, waiting to be transcribed (or to be retried)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Transcribing")
        FAILED = "failed", _("Failed, will be retried")

    key = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    consultation = models.ForeignKey("consultations.Consultation", on_delete=models.CASCADE, related_name="utterances")
    speaker = models.CharField(max_length=16, choices=Speaker.choices)
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    wav_path = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Exception class and a short reason only: never the audio or any text from it.
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("pending utterance")
        verbose_name_plural = _("pending utterances")
        ordering = ["consultation", "start_ms", "id"]

    def __str__(self):
        return f"utterance {self.key} consultation #{self.consultation_id} {self.status}"
