"""Server-rendered doctor UI (the JSON API lives in medcall/api_urls.py)."""
from django.contrib.auth import views as auth_views
from django.urls import include, path

from consultations.room_views import patient_room_urlpatterns
from consultations.views import dashboard_view

urlpatterns = [
    path("", dashboard_view, name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    # Django 5 LogoutView accepts POST only, so a link or prefetch cannot log a doctor out.
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("patients/", include("patients.urls")),
    path("consultations/", include("consultations.urls")),
    path("consultations/", include("transcription.urls")),  # in-person page, transcript panel/download (issue 5)
    path("consultations/", include("assist.urls")),  # suggestions and note fragments, note export (issue 6)
    *patient_room_urlpatterns,  # /p/<token>/consent|room|end (issue 4)
]
