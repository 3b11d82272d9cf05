from django.urls import path

from . import views
from .room_views import room_urlpatterns

app_name = "consultations"

urlpatterns = [
    path("new/", views.consultation_create_view, name="create"),
    path("<int:pk>/", views.consultation_detail_view, name="detail"),
    path("<int:pk>/edit/", views.consultation_edit_view, name="edit"),
    # POST only, with `to` = the target status (in_progress, completed, cancelled).
    path("<int:pk>/transition/", views.consultation_transition_view, name="transition"),
    *room_urlpatterns,  # the consultation room (issue 4)
]
