"""The SOAP note: an extractive draft from a realistic Portuguese transcript when the consultation is
completed (one draft, audited), editing in the page fragment, and export as text and PDF."""
import io

import pytest
from django.utils import translation

from assist.engines.local import shared_local_engine
from assist.models import AIUsage, ConsultationNote
from assist.notes import extractive_draft
from audit.models import AuditEvent
from transcription.suggestions import Utterance

from .conftest import HEADACHE_WITH_FEVER

pytestmark = pytest.mark.django_db


def test_it_drafts_soap_extractively_from_the_transcript():
    with translation.override("pt-br"):
        draft = extractive_draft([Utterance(s, t) for s, t in HEADACHE_WITH_FEVER], shared_local_engine())

    s = draft["subjective"]
    assert s.startswith("Queixa principal: Cefaleia, Febre")
    assert "dor de cabeça muito forte desde ontem" in s
    assert "Foi piorando aos poucos" in s  # the onset answer, grouped under its topic
    assert "Roteiro de anamnese" in s
    assert "[ ] Tem febre junto, nuca dura ou dificuldade de encostar o queixo no peito? (sinal de alarme)" in s
    assert "Bom dia" not in s  # greetings are not clinical statements
    assert draft["objective"] == "- Temperatura 38,4 graus, pressão 12 por 8."
    assert "quadro viral" in draft["assessment"]
    assert "Vou prescrever dipirona" in draft["plan"]
    assert "A dor começou de repente" not in "".join(draft.values())  # the doctor's questions are not findings


def test_it_drafts_the_note_when_the_consultation_is_completed(consultation, say, ctx_alice, settings,
                                                               django_capture_on_commit_callbacks):
    from consultations.services import consultation_transition

    settings.CELERY_TASK_ALWAYS_EAGER = True  # embedded mode: drafted in-process (the worker case is below)

    for speaker, text in HEADACHE_WITH_FEVER:
        say(speaker, text)
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="in_progress")
    assert not ConsultationNote.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        consultation_transition(ctx=ctx_alice, consultation=consultation, to="completed")

    note = ConsultationNote.objects.get(consultation=consultation)
    assert (note.status, note.version, note.source) == ("draft", 1, "local")
    assert note.versions.get().number == 1
    assert "dipirona" in note.plan.lower()
    drafted = AuditEvent.objects.get(action="note.drafted", target_id=str(consultation.pk))
    assert drafted.extra["segments"] == len(HEADACHE_WITH_FEVER)
    assert AIUsage.objects.filter(kind="note", engine="local", cost=0, compute_seconds__gt=0).exists()

    from assist.services import note_draft_generate

    assert note_draft_generate(consultation_id=consultation.pk) is None  # idempotent: the doctor's edits stay


def test_it_edits_and_finalises_the_note_in_the_page_fragment(alice_client, alice, consultation):
    url = f"/consultations/{consultation.pk}/assist/note/"
    page = alice_client.get(url)
    assert page.status_code == 200 and "Subjetivo" in page.content.decode()
    fields = {"subjective": "Cefaleia", "objective": "T 38", "assessment": "Viral", "plan": "Dipirona"}
    saved = alice_client.post(url, {**fields, "action": "save"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200 and "Salvo como versão 1" in saved.content.decode()
    final = alice_client.post(url, {**fields, "plan": "Dipirona 1 g", "action": "final"})
    html = final.content.decode()
    assert "Nota marcada como final" in html and "<textarea" not in html
    refused = alice_client.post(url, {**fields, "action": "save"})
    assert refused.status_code == 409
    note = ConsultationNote.objects.get()
    assert (note.version, note.status, note.plan, note.finalized_by) == (2, "final", "Dipirona 1 g", alice.user)
    assert AuditEvent.objects.filter(action="note.viewed", extra__via="web").count() == 1


def _note(consultation):
    return ConsultationNote.objects.create(
        consultation=consultation, subjective="Queixa principal: cefaleia há 1 dia, com febre — 38,5 °C.",
        objective="Temperatura 38,4 graus.", assessment="Quadro viral; descartar meningite.",
        plan="Dipirona de 6 em 6 horas. Retorno em 2 dias.", source="local")


def test_it_exports_the_note_as_a_pdf_with_its_text(alice_client, consultation):
    from pypdf import PdfReader

    _note(consultation)
    response = alice_client.get(f"/consultations/{consultation.pk}/note.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in ("Nota da consulta", "Maria da Silva", "Subjetivo", "Plano", "cefaleia há 1 dia, com febre - 38,5",
                     "descartar meningite", "CRM 123456/SP"):
        assert expected in text
    assert AuditEvent.objects.filter(action="note.viewed", extra__via="export_pdf").count() == 1


def test_it_exports_the_note_as_plain_text(alice_client, charlie, consultation):
    _note(consultation)
    response = alice_client.get(f"/consultations/{consultation.pk}/note.txt")
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain") and "attachment" in response["Content-Disposition"]
    assert text.startswith("Nota da consulta\nPaciente: Maria da Silva\n")
    assert "SUBJETIVO\nQueixa principal: cefaleia" in text and "PLANO\nDipirona de 6 em 6 horas" in text
    alice_client.force_login(charlie.user)  # the outsider
    assert alice_client.get(f"/consultations/{consultation.pk}/note.txt").status_code == 404


@pytest.mark.timeout(120)
def test_it_drafts_the_note_in_a_celery_worker(celery_worker_process, consultation, say, ctx_alice):
    """Production path: the on-commit hook enqueues `assist.note_draft` and a real worker writes it."""
    import time

    from consultations.services import consultation_transition

    for speaker, text in HEADACHE_WITH_FEVER:
        say(speaker, text)
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="in_progress")
    consultation_transition(ctx=ctx_alice, consultation=consultation, to="completed")
    deadline = time.monotonic() + 60
    while not ConsultationNote.objects.filter(consultation=consultation).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    note = ConsultationNote.objects.get(consultation=consultation)
    assert note.source == "local" and "dipirona" in note.plan.lower()
