"""The `local` suggestion engine: offline, deterministic follow-up questions for the anamnesis.

Given the conversation so far (doctor and patient utterances), it finds the chief complaints the
patient reported, works out which checklist items have already been asked by the doctor or answered
by the patient, and proposes the next few questions — red flags first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .kb import ChecklistItem, KnowledgeBase, default_knowledge_base

DOCTOR = "doctor"
PATIENT = "patient"
UNKNOWN = "unknown"  # one microphone for both (in-person consultation): counts as either speaker


@dataclass(frozen=True)
class Utterance:
    speaker: str  # "doctor" | "patient" | "unknown"
    text: str


@dataclass(frozen=True)
class SuggestionCandidate:
    key: str  # stable id "<complaint>.<item>", e.g. "cefaleia.rigidez_nuca"
    text: str  # the question, pt-BR
    text_en: str
    reason: str  # one line, pt-BR
    reason_en: str
    topic: str  # onset|duration|intensity|character|location|triggers|associated|history|medications|allergies|…
    complaint: str  # e.g. "cefaleia"
    red_flag: bool

    @classmethod
    def from_item(cls, item: ChecklistItem) -> SuggestionCandidate:
        return cls(
            key=item.key,
            text=item.question,
            text_en=item.question_en,
            reason=item.reason,
            reason_en=item.reason_en,
            topic=item.topic,
            complaint=item.complaint,
            red_flag=item.red_flag,
        )


class LocalSuggestionEngine:
    """Pure functions over a list of utterances; safe to share between threads."""

    name = "local"

    def __init__(self, kb: KnowledgeBase | None = None):
        self.kb = kb or default_knowledge_base()

    def detect_complaints(self, utterances: Sequence[Utterance]) -> list[str]:
        """Complaints the patient reported (not the ones the doctor asked about), most salient first.

        Salience: how many utterances mention it, then who mentioned it first. A doctor asking
        "tem febre?" does not make fever a complaint; the patient saying so does.
        """
        mentions: dict[str, list[int]] = {}  # complaint → [count, -utterance index, -position]
        for index, utterance in enumerate(_spoken(utterances)):
            if utterance.speaker == DOCTOR:
                continue
            for complaint, position in self.kb.analyse(utterance.text).complaints.items():
                if complaint in mentions:
                    mentions[complaint][0] += 1
                else:
                    mentions[complaint] = [1, -index, -position]
        order = {c.key: i for i, c in enumerate(self.kb.complaints)}
        return sorted(mentions, key=lambda c: (-mentions[c][0], -mentions[c][1], -mentions[c][2], order[c]))

    def covered_keys(self, utterances: Sequence[Utterance]) -> set[str]:
        """Checklist items the doctor already asked or the patient already answered."""
        covered: set[str] = set()
        for utterance in _spoken(utterances):
            analysis = self.kb.analyse(utterance.text)
            if utterance.speaker != PATIENT:
                covered |= analysis.asked
            if utterance.speaker != DOCTOR:
                covered |= analysis.answered
        return covered

    def suggest(
        self, utterances: Sequence[Utterance], *, exclude_keys: Iterable[str] = frozenset(), limit: int = 3
    ) -> list[SuggestionCandidate]:
        """Up to `limit` next questions for the complaints reported so far, red flags first.

        Nothing is suggested before the patient reports a complaint (greetings, small talk,
        silence), and nothing that was asked, answered or excluded (dismissed or already shown as
        asked) — including the same question filed under another complaint.
        """
        if limit <= 0:
            return []
        complaints = self.detect_complaints(utterances)
        if not complaints:
            return []
        covered = self.covered_keys(utterances)
        excluded = set(exclude_keys)
        items = self.kb.items_by_key
        # The same generic question (allergies, current medicines) appears under several complaints;
        # once one copy is covered or dismissed, every copy is.
        blocked_texts = {items[k].question for k in covered | excluded if k in items}
        present = set(complaints)
        rank = {c: i for i, c in enumerate(complaints)}

        candidates: list[tuple[tuple[int, int, int, int], ChecklistItem]] = []
        for complaint_key in complaints:
            for index, item in enumerate(self.kb.complaint_by_key[complaint_key].items):
                if item.key in covered or item.key in excluded or item.question in blocked_texts:
                    continue
                boosted = bool(present.intersection(item.boost))
                sort_key = (0 if item.red_flag else 1, 0 if boosted else 1, rank[complaint_key], index)
                candidates.append((sort_key, item))
        candidates.sort(key=lambda pair: pair[0])

        chosen: list[SuggestionCandidate] = []
        seen_texts: set[str] = set()
        for _, item in candidates:
            if item.question in seen_texts:
                continue
            seen_texts.add(item.question)
            chosen.append(SuggestionCandidate.from_item(item))
            if len(chosen) == limit:
                break
        return chosen


def _spoken(utterances: Sequence[Utterance]) -> list[Utterance]:
    return [u for u in utterances if u.text and u.text.strip()]
