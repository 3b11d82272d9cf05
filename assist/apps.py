from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistConfig(AppConfig):
    name = "assist"
    verbose_name = _("Consultation assistant")
