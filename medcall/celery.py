"""Celery application. Without REDIS_URL tasks run eagerly in-process (see settings)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings")

app = Celery("medcall")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# medcall/tasks.py: project-level tasks (ping) outside the installed apps.
app.autodiscover_tasks(["medcall"])
