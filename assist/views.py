"""Doctor pages of the assistant, as htmx fragments: the suggestion list (perguntei / dispensar, and
the per-consultation switch) and the note editor (versions, mark final, PDF and text export).
Thin: access helper, one service/selector call, render."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import AuditContext
from consultations.selectors import consultation_get
from patients.views import doctor_required

from . import export, selectors, services
from .models import Suggestion


def _suggestions_context(consultation):
    return {
        "consultation": consultation,
        "enabled": selectors.suggestions_enabled(consultation_id=consultation.pk),
        "suggestions": selectors.suggestions_visible(consultation=consultation),
    }


@require_GET
@doctor_required
def suggestions_panel_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    return render(request, "assist/_suggestions.html", _suggestions_context(consultation))


@require_POST
@doctor_required
def suggestion_status_view(request, pk: int, sid: int):
    consultation = consultation_get(user=request.user, pk=pk)
    suggestion = get_object_or_404(Suggestion, pk=sid, consultation=consultation)
    status = request.POST.get("status", "")
    context = _suggestions_context(consultation)
    try:
        services.suggestion_set_status(ctx=AuditContext.from_request(request), suggestion=suggestion, status=status)
    except ValidationError as exc:
        context["error"] = " ".join(exc.messages)
        return render(request, "assist/_suggestions.html", context, status=400)
    return render(request, "assist/_suggestions.html", _suggestions_context(consultation))


@require_POST
@doctor_required
def suggestions_toggle_view(request, pk: int):
    consultation = consultation_get(user=request.user, pk=pk)
    services.suggestions_toggle(ctx=AuditContext.from_request(request), consultation=consultation,
                                enabled=request.POST.get("enabled") == "on")
    return render(request, "assist/_suggestions.html", _suggestions_context(consultation))


def _note_context(consultation, **extra):
    note = selectors.note_for(consultation=consultation)
    return {
        "consultation": consultation,
        "note": note,
        "versions": selectors.note_versions(note=note)[:20] if note else [],
        **extra,
    }


@require_http_methods(["GET", "POST"])
@doctor_required
def note_panel_view(request, pk: int):
    """GET: the editor (an audited read). POST: save a version; `action=final` also marks it final."""
    consultation = consultation_get(user=request.user, pk=pk)
    ctx = AuditContext.from_request(request)
    if request.method == "GET":
        services.note_record_view(ctx=ctx, consultation=consultation, via="web")
        return render(request, "assist/_note.html", _note_context(consultation))
    fields = {k: request.POST.get(k, "") for k in ("subjective", "objective", "assessment", "plan")}
    try:
        services.note_save(ctx=ctx, consultation=consultation, final=request.POST.get("action") == "final", **fields)
    except services.NoteIsFinal as exc:
        return render(request, "assist/_note.html", _note_context(consultation, error=str(exc)), status=409)
    return render(request, "assist/_note.html", _note_context(consultation, saved=True))


def _export(request, pk: int, kind: str):
    consultation = consultation_get(user=request.user, pk=pk)
    note = selectors.note_for(consultation=consultation)
    if note is None:
        raise Http404
    services.note_record_view(ctx=AuditContext.from_request(request), consultation=consultation, via=f"export_{kind}")
    if kind == "pdf":
        response = HttpResponse(export.note_as_pdf(note), content_type="application/pdf")
    else:
        response = HttpResponse(export.note_as_text(note), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="nota-consulta-{consultation.pk}.{kind}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@doctor_required
def note_pdf_view(request, pk: int):
    return _export(request, pk, "pdf")


@require_GET
@doctor_required
def note_text_view(request, pk: int):
    return _export(request, pk, "txt")
