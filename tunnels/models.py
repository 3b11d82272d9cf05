"""Runtime state of the local installation: one health row per service, and the public base URL.

Both are written by probes, the orchestrator and the supervisor (runtunnels / Celery beat) through
tunnels/services.py, and read on each request, so a changed tunnel URL needs no restart.
"""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ServiceStatus(models.Model):
    class Name(models.TextChoices):
        WEB = "web", _("Web server")
        LIVEKIT = "livekit", _("LiveKit")
        TUNNEL = "tunnel", _("Tunnel")
        REDIS = "redis", _("Redis")
        WORKER = "worker", _("Background worker")

    class State(models.TextChoices):
        UP = "up", _("Up")
        STARTING = "starting", _("Starting")
        DEGRADED = "degraded", _("Degraded")
        DOWN = "down", _("Down")
        DISABLED = "disabled", _("Disabled")

    name = models.CharField(_("service"), max_length=16, choices=Name.choices, unique=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DOWN)
    # User-facing, already translated to settings.LANGUAGE_CODE when written (a background check has
    # no request language). Names the service, the port and the fix; never holds secrets.
    message = models.TextField(_("message"), blank=True, default="")
    details = models.JSONField(_("details"), default=dict, blank=True)
    checked_at = models.DateTimeField(_("last check"), null=True, blank=True)
    last_ok_at = models.DateTimeField(_("last success"), null=True, blank=True)
    changed_at = models.DateTimeField(_("state changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("service status")
        verbose_name_plural = _("service statuses")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.state}"


class PublicEndpoint(models.Model):
    """Singleton (pk=1): the public base URL patients' links are built on, and how far it got."""

    SINGLETON_PK = 1

    class State(models.TextChoices):
        CLOSED = "closed", _("Closed")
        OPENING = "opening", _("Opening")
        VERIFYING = "verifying", _("Verifying")
        VERIFIED = "verified", _("Verified")
        FAILED = "failed", _("Failed")

    provider = models.CharField(_("provider"), max_length=32, blank=True, default="")
    public_url = models.CharField(_("public URL"), max_length=500, blank=True, default="")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.CLOSED)
    message = models.TextField(_("message"), blank=True, default="")
    # The web server's INSTANCE_ID that answered through the tunnel when it was verified.
    instance_id = models.CharField(_("verified instance"), max_length=64, blank=True, default="")
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("public endpoint")
        verbose_name_plural = _("public endpoint")

    def __str__(self) -> str:
        return f"{self.provider or '-'} {self.public_url or '-'} ({self.state})"
