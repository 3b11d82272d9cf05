from django.urls import path

from . import views

app_name = "transcription"

urlpatterns = [
    path("<int:pk>/in-person/", views.in_person_view, name="in-person"),
    path("<int:pk>/in-person/consent/", views.in_person_consent_view, name="in-person-consent"),
    path("<int:pk>/transcript/panel/", views.transcript_panel_view, name="panel"),
    path("<int:pk>/transcript.txt", views.transcript_download_view, name="download"),
]
