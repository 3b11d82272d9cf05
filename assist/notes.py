"""The extractive SOAP draft: built from the transcript alone, with nothing invented.

- S (Subjetivo): the chief complaints, then the patient's own sentences grouped by the anamnesis
  topic they answer (onset, duration, character…), then other statements; and the checklist of the
  complaints' items, covered and not yet covered (red flags marked), for the doctor to complete.
- O / A / P: the doctor's sentences that read as findings, assessment or plan (keyword cues).

Section headings and labels are translatable; the caller activates the clinic's language.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from transcription.suggestions import LocalSuggestionEngine, Utterance
from transcription.suggestions.normalize import strip_accents

TOPIC_LABELS = {
    "onset": gettext_lazy("Onset"),
    "duration": gettext_lazy("Duration and pattern"),
    "intensity": gettext_lazy("Intensity"),
    "character": gettext_lazy("Character"),
    "location": gettext_lazy("Location and radiation"),
    "triggers": gettext_lazy("Triggers and relief"),
    "associated": gettext_lazy("Associated symptoms"),
    "history": gettext_lazy("History"),
    "medications": gettext_lazy("Medications"),
    "allergies": gettext_lazy("Allergies"),
    "exposure": gettext_lazy("Exposures"),
    "red_flag": gettext_lazy("Warning signs"),
}

# Cues on accent-free lowercase text. Findings first: "temperatura 38" is a finding, not a plan.
OBJECTIVE_CUES = ("pressao", "temperatura", "ausculta", "exame fisico", "ao exame", "frequencia",
                  "saturacao", "sinais vitais", "afebril", "febril", "sem rigidez", "rigidez de nuca presente",
                  "pulmao", "pulmoes", "abdome", "palpa", "orofaringe", "amigdala", "hiperemi", "murmurio",
                  "batimentos", "bpm", "mmhg", "graus", "estou vendo", "a garganta esta", "glasgow", "kernig",
                  "brudzinski")
ASSESSMENT_CUES = ("diagnostico", "suspeita", "hipotese", "parece ser", "provavelmente", "quadro de",
                   "acho que e", "compativel", "pode ser", "descartar", "impressao")
PLAN_CUES = ("prescrev", "receit", "vou passar", "tomar", "tome ", "solicit", "pedir", "exame de", "retorno",
             "retornar", "encaminh", "repouso", "hidrata", "orient", "volte", "voltar", "procure", "pronto-socorro",
             "pronto socorro", "internar", "internacao", "medicacao", "de 8 em 8", "de 6 em 6", "mg")

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def _plain(text: str) -> str:
    return strip_accents(text.lower())


def _classify_doctor(sentence: str) -> str | None:
    plain = _plain(sentence)
    if sentence.rstrip().endswith("?"):
        return None  # a question belongs to the history, not to findings or plan
    for section, cues in (("objective", OBJECTIVE_CUES), ("assessment", ASSESSMENT_CUES), ("plan", PLAN_CUES)):
        if any(cue in plain for cue in cues):
            return section
    return None


def extractive_draft(utterances: Sequence[Utterance], engine: LocalSuggestionEngine) -> dict[str, str]:
    kb = engine.kb
    items = kb.items_by_key
    complaints = engine.detect_complaints(utterances)
    by_topic: dict[str, list[str]] = {}
    other: list[str] = []
    doctor: dict[str, list[str]] = {"objective": [], "assessment": [], "plan": []}

    for utterance in utterances:
        for sentence in _sentences(utterance.text or ""):
            if utterance.speaker != "patient":
                section = _classify_doctor(sentence)
                if section:
                    doctor[section].append(sentence)
                    continue
                if utterance.speaker == "doctor":
                    continue
            # The patient (or the single in-person mic) speaking: group by the topic it answers.
            analysis = kb.analyse(sentence)
            topics = [items[k].topic for k in sorted(analysis.answered) if k in items]
            if topics:
                by_topic.setdefault(topics[0], []).append(sentence)
            elif analysis.complaints or len(sentence.split()) >= 5:
                other.append(sentence)

    subjective: list[str] = []
    if complaints:
        names = ", ".join(kb.complaint_by_key[c].name for c in complaints)
        subjective.append(_("Chief complaint: %(complaints)s.") % {"complaints": names})
    for topic, label in TOPIC_LABELS.items():
        if topic in by_topic:
            subjective.append(f"- {label}: " + " ".join(by_topic[topic]))
    if other:
        subjective.append("- " + _("Other statements") + ": " + " ".join(other))
    if complaints:
        covered = engine.covered_keys(utterances)
        subjective.append("")
        subjective.append(_("Anamnesis checklist"))
        for complaint_key in complaints:
            complaint = kb.complaint_by_key[complaint_key]
            done = [str(TOPIC_LABELS.get(i.topic, i.topic)) for i in complaint.items if i.key in covered]
            covered_label = _("covered")
            subjective.append(f"{complaint.name} — {covered_label}: " + (", ".join(dict.fromkeys(done)) or "—"))
            for item in complaint.items:
                if item.key not in covered:
                    flag = " (" + _("red flag") + ")" if item.red_flag else ""
                    subjective.append(f"  [ ] {item.question}{flag}")

    none = _("Not stated in the transcript.")
    return {
        "subjective": "\n".join(subjective).strip() or none,
        "objective": "\n".join(f"- {s}" for s in doctor["objective"]) or none,
        "assessment": "\n".join(f"- {s}" for s in doctor["assessment"]) or none,
        "plan": "\n".join(f"- {s}" for s in doctor["plan"]) or none,
    }
