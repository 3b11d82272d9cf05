from django.urls import path

from . import views

app_name = "assist"

urlpatterns = [
    path("<int:pk>/assist/suggestions/", views.suggestions_panel_view, name="suggestions"),
    path("<int:pk>/assist/suggestions/toggle/", views.suggestions_toggle_view, name="suggestions-toggle"),
    path("<int:pk>/assist/suggestions/<int:sid>/", views.suggestion_status_view, name="suggestion-status"),
    path("<int:pk>/assist/note/", views.note_panel_view, name="note"),
    path("<int:pk>/note.pdf", views.note_pdf_view, name="note-pdf"),
    path("<int:pk>/note.txt", views.note_text_view, name="note-text"),
]
