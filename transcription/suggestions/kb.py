"""The anamnesis knowledge base: chief complaints, their checklist items and red flags.

The clinical content lives as data in `kb/*.yaml` (one file per complaint, plus `_common.yaml` with
the lexicon and shared coverage phrases) so that a clinician can review and extend it without reading
Python. This module loads and validates those files once and compiles every phrase into a `Pattern`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from .normalize import BOUNDARIES, Normalizer, Pattern, fold, strip_accents

KB_DIR = Path(__file__).resolve().parent / "kb"
# libyaml's parser when PyYAML was built with it: the pure-Python one takes ~1 s for the whole KB.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
COMMON_FILE = "_common.yaml"

TOPICS = frozenset(
    {
        "onset",
        "duration",
        "intensity",
        "character",
        "location",
        "triggers",
        "associated",
        "history",
        "medications",
        "allergies",
        "exposure",
        "red_flag",
    }
)
SEXES = frozenset({"female", "male"})
MIN_CHECKLIST_ITEMS = 6
MAX_CHECKLIST_ITEMS = 10

# A complaint preceded by one of these ("não tenho febre", "sem falta de ar", "nunca tive tontura")
# is denied, not reported. Only "have/feel" filler words may stand between the negation and the term,
# so "não melhora a dor de cabeça" still reports a headache.
_NEGATORS = frozenset({"nao", "nunca", "sem", "nem", "nenhum", "nenhuma", "negou", "nega"})
_NEGATION_FILLER = frozenset(
    fold(w)
    for w in (
        "tenho tem teve tive tinha tido ter estou esta estava estive sinto sente senti sentiu sentindo sentido "
        "com de a o um uma mais nenhum nenhuma doutor doutora senhor senhora nada"
    ).split()
)
_NEGATION_WINDOW = 4


class KnowledgeBaseError(ValueError):
    """The knowledge-base files are malformed; the message names the file and the field."""


@dataclass(frozen=True)
class ChecklistItem:
    key: str  # "<complaint>.<item>"
    complaint: str
    topic: str
    red_flag: bool
    question: str
    question_en: str
    reason: str
    reason_en: str
    asked: tuple[Pattern, ...]  # what a doctor asking this would say
    answered: tuple[Pattern, ...]  # what a patient answering it would say
    boost: tuple[str, ...] = ()  # complaints whose presence makes this item more pressing
    applies_to: str = ""  # "female" | "male" | "" (anyone): e.g. pregnancy questions


@dataclass(frozen=True)
class Complaint:
    key: str
    name: str
    name_en: str
    detect: tuple[Pattern, ...]
    items: tuple[ChecklistItem, ...]


@dataclass(frozen=True)
class TextAnalysis:
    """What one piece of text says, independent of who said it."""

    complaints: dict[str, int] = field(default_factory=dict)  # complaint → first token position (not denied)
    asked: frozenset[str] = frozenset()  # item keys a doctor's question in this text covers
    answered: frozenset[str] = frozenset()  # item keys a patient's answer in this text covers


class KnowledgeBase:
    def __init__(self, complaints: Iterable[Complaint], normalizer: Normalizer):
        self.complaints: tuple[Complaint, ...] = tuple(complaints)
        self.normalizer = normalizer
        self.complaint_by_key = {c.key: c for c in self.complaints}
        self.items_by_key = {item.key: item for c in self.complaints for item in c.items}
        # Every distinct pattern once, with what a match means for each of its owners.
        self._patterns: list[Pattern] = []
        self._detects: list[list[str]] = []  # pattern id → complaints it detects
        self._asks: list[list[str]] = []  # pattern id → item keys a doctor's question covers
        self._answers: list[list[str]] = []  # pattern id → item keys a patient's answer covers
        ids: dict[Pattern, int] = {}

        def register(pattern: Pattern) -> int:
            if pattern not in ids:
                ids[pattern] = len(self._patterns)
                self._patterns.append(pattern)
                self._detects.append([])
                self._asks.append([])
                self._answers.append([])
            return ids[pattern]

        for complaint in self.complaints:
            for pattern in complaint.detect:
                self._detects[register(pattern)].append(complaint.key)
            for item in complaint.items:
                for pattern in item.asked:
                    self._asks[register(pattern)].append(item.key)
                for pattern in item.answered:
                    self._answers[register(pattern)].append(item.key)
        # Index patterns by their first token so a transcript token only tries the patterns that can
        # start there: a few dozen instead of thousands.
        self._by_word: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}
        for pid, pattern in enumerate(self._patterns):
            first = pattern.tokens[0]
            for word in first.values:
                self._by_word.setdefault(word, []).append(pid)
            for prefix in first.prefixes:
                self._by_prefix.setdefault(prefix, []).append(pid)
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix})
        self.analyse = lru_cache(maxsize=8192)(self._analyse)

    def inapplicable_keys(self, *, patient_sex: str) -> frozenset[str]:
        """Items that make no sense for this patient (pregnancy for a man): pass as `exclude_keys`.

        `patient_sex` is "female" or "male"; anything else (unknown) excludes nothing.
        """
        if patient_sex not in SEXES:
            return frozenset()
        return frozenset(k for k, i in self.items_by_key.items() if i.applies_to and i.applies_to != patient_sex)

    def _starting_at(self, token: str) -> set[int]:
        candidates = set(self._by_word.get(token, ()))
        for length in self._prefix_lengths:
            if length > len(token):
                break
            candidates.update(self._by_prefix.get(token[:length], ()))
        return candidates

    def _analyse(self, text: str) -> TextAnalysis:
        tokens = self.normalizer.tokens(text)
        complaints: dict[str, int] = {}
        asked: set[str] = set()
        answered: set[str] = set()
        for start, token in enumerate(tokens):
            if token in BOUNDARIES:
                continue
            for pid in self._starting_at(token):
                if not self._patterns[pid].match_at(tokens, start):
                    continue
                asked.update(self._asks[pid])
                answered.update(self._answers[pid])
                if self._detects[pid] and not _denied(tokens, start):
                    for complaint in self._detects[pid]:
                        complaints.setdefault(complaint, start)
        return TextAnalysis(complaints=complaints, asked=frozenset(asked), answered=frozenset(answered))


def _denied(tokens: tuple[str, ...], start: int) -> bool:
    for back in range(1, _NEGATION_WINDOW + 1):
        i = start - back
        if i < 0 or tokens[i] in BOUNDARIES:
            return False
        if tokens[i] in _NEGATORS:
            return True
        if tokens[i] not in _NEGATION_FILLER:
            return False
    return False


# -- loading ----------------------------------------------------------------------------------
def _require(data: dict, name: str, where: str, kind: type = str):
    value = data.get(name)
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise KnowledgeBaseError(f"{where}: '{name}' must be a non-empty {kind.__name__}")
    return value


def _phrases(data: dict, name: str, where: str) -> list[str]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KnowledgeBaseError(f"{where}: '{name}' must be a list of phrases")
    return value


def load_knowledge_base(directory: Path | str = KB_DIR) -> KnowledgeBase:
    """Load, validate and compile every `*.yaml` file in `directory`."""
    directory = Path(directory)
    common = yaml.load((directory / COMMON_FILE).read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
    normalizer = Normalizer(synonyms=common.get("synonyms") or {}, contractions=common.get("contractions") or {})
    pattern_sets: dict[str, dict[str, list[str]]] = {}
    for name, body in (common.get("pattern_sets") or {}).items():
        where = f"{COMMON_FILE} pattern_sets.{name}"
        pattern_sets[name] = {side: _phrases(body, side, where) for side in ("asked", "answered", "mentions")}
    templates: dict[str, dict] = common.get("item_templates") or {}

    raw_complaints = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == COMMON_FILE:
            continue
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
        if not isinstance(data, dict):
            raise KnowledgeBaseError(f"{path.name}: expected a mapping at the top level")
        items = []
        for index, item in enumerate(data.get("items") or []):
            if isinstance(item, dict) and "template" in item:
                if item["template"] not in templates:
                    raise KnowledgeBaseError(f"{path.name} items[{index}]: unknown template {item['template']!r}")
                item = {**templates[item["template"]], **item}
            items.append(item)
        raw_complaints.append((path.name, {**data, "items": items}))

    # Teach the normaliser every word and prefix the patterns use before compiling anything, so
    # transcripts can be repaired towards that vocabulary.
    sources: list[str] = []
    for body in pattern_sets.values():
        for phrases in body.values():
            sources.extend(phrases)
    for _, data in raw_complaints:
        sources.extend(data.get("detect") or [])
        for item in data.get("items") or []:
            if isinstance(item, dict):
                for side in ("asked", "answered", "mentions"):
                    sources.extend(p for p in item.get(side) or [] if isinstance(p, str))
    normalizer.learn(
        words=(w for s in sources for w in normalizer.literal_tokens(s)),
        prefixes=(
            strip_accents(alt[:-1].lower())
            for s in sources
            for raw in s.split()
            for alt in raw.split("|")
            if alt.endswith("*") and alt != "*"
        ),
        phrases=(
            tuple(normalizer.literal_tokens(s)) for s in sources if "*" not in s and "|" not in s and "{" not in s
        ),
    )

    compiled: dict[str, Pattern] = {}

    def compile_all(phrases: Iterable[str], where: str) -> tuple[Pattern, ...]:
        out = []
        for phrase in phrases:
            if phrase not in compiled:
                try:
                    compiled[phrase] = normalizer.compile(phrase)
                except ValueError as exc:
                    raise KnowledgeBaseError(f"{where}: {exc}") from exc
            out.append(compiled[phrase])
        return tuple(dict.fromkeys(out))

    complaints = []
    seen_keys: set[str] = set()
    for filename, data in raw_complaints:
        key = _require(data, "key", filename)
        if key in seen_keys:
            raise KnowledgeBaseError(f"{filename}: duplicate complaint key {key!r}")
        seen_keys.add(key)
        items = []
        for index, item in enumerate(data.get("items") or []):
            where = f"{filename} items[{index}]"
            if not isinstance(item, dict):
                raise KnowledgeBaseError(f"{where}: expected a mapping")
            item_id = _require(item, "id", where)
            topic = _require(item, "topic", where)
            if topic not in TOPICS:
                raise KnowledgeBaseError(f"{where}: unknown topic {topic!r}; use one of {sorted(TOPICS)}")
            sides = {side: list(_phrases(item, side, where)) for side in ("asked", "answered", "mentions")}
            for set_name in _phrases(item, "use", where):
                if set_name not in pattern_sets:
                    raise KnowledgeBaseError(f"{where}: unknown pattern set {set_name!r}")
                for side in sides:
                    sides[side].extend(pattern_sets[set_name][side])
            applies_to = item.get("applies_to") or ""
            if applies_to and applies_to not in SEXES:
                raise KnowledgeBaseError(f"{where}: applies_to must be one of {sorted(SEXES)}")
            if not (sides["asked"] or sides["mentions"]) or not (sides["answered"] or sides["mentions"]):
                raise KnowledgeBaseError(f"{where}: needs phrases for both the doctor asking and the patient answering")
            items.append(
                ChecklistItem(
                    key=f"{key}.{item_id}",
                    complaint=key,
                    topic=topic,
                    red_flag=bool(item.get("red_flag", False)),
                    question=_require(item, "question", where),
                    question_en=_require(item, "question_en", where),
                    reason=_require(item, "reason", where),
                    reason_en=_require(item, "reason_en", where),
                    asked=compile_all(sides["asked"] + sides["mentions"], where),
                    answered=compile_all(sides["answered"] + sides["mentions"], where),
                    boost=tuple(_phrases(item, "boost", where)),
                    applies_to=applies_to,
                )
            )
        complaint = Complaint(
            key=key,
            name=_require(data, "name", filename),
            name_en=_require(data, "name_en", filename),
            detect=compile_all(_phrases(data, "detect", filename), filename),
            items=tuple(items),
        )
        if not complaint.detect:
            raise KnowledgeBaseError(f"{filename}: 'detect' needs at least one phrase")
        if len({i.key for i in items}) != len(items):
            raise KnowledgeBaseError(f"{filename}: duplicate item ids")
        checklist = sum(1 for i in items if not i.red_flag)
        if not MIN_CHECKLIST_ITEMS <= checklist <= MAX_CHECKLIST_ITEMS or not any(i.red_flag for i in items):
            raise KnowledgeBaseError(
                f"{filename}: needs {MIN_CHECKLIST_ITEMS}-{MAX_CHECKLIST_ITEMS} checklist items and at least "
                f"one red flag (has {checklist} and {len(items) - checklist})"
            )
        complaints.append(complaint)

    for complaint in complaints:
        for item in complaint.items:
            unknown = set(item.boost) - seen_keys
            if unknown:
                raise KnowledgeBaseError(f"{item.key}: boost names unknown complaints {sorted(unknown)}")
    return KnowledgeBase(complaints, normalizer)


@lru_cache(maxsize=1)
def default_knowledge_base() -> KnowledgeBase:
    """The packaged knowledge base, loaded once per process."""
    return load_knowledge_base(KB_DIR)
