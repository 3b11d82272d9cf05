"""The packaged anamnesis knowledge base: coverage of complaints, completeness and self-consistency."""

import re

import pytest

from transcription.suggestions import KnowledgeBaseError, LocalSuggestionEngine, Utterance, load_knowledge_base
from transcription.suggestions.kb import (
    KB_DIR,
    MAX_CHECKLIST_ITEMS,
    MIN_CHECKLIST_ITEMS,
    TOPICS,
    default_knowledge_base,
)

REQUIRED_COMPLAINTS = {
    "cefaleia",
    "dor_toracica",
    "febre",
    "dor_abdominal",
    "dispneia",
    "tosse",
    "dor_lombar",
    "diarreia",
    "disuria",
    "tontura",
    "dor_garganta",
    "lesao_pele",
    "ansiedade",
    "dor_articular",
    "palpitacoes",
}
KB = default_knowledge_base()
ITEMS = list(KB.items_by_key.values())


def test_it_covers_the_fifteen_common_chief_complaints():
    assert REQUIRED_COMPLAINTS <= set(KB.complaint_by_key)


@pytest.mark.parametrize("complaint", KB.complaints, ids=lambda c: c.key)
def test_it_gives_each_complaint_a_checklist_and_red_flags(complaint):
    checklist = [i for i in complaint.items if not i.red_flag]
    assert MIN_CHECKLIST_ITEMS <= len(checklist) <= MAX_CHECKLIST_ITEMS
    assert any(i.red_flag for i in complaint.items)
    topics = {i.topic for i in checklist}
    assert "onset" in topics
    assert len(topics) >= 4, "a checklist should span several anamnesis topics"


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.key)
def test_it_describes_each_item_in_portuguese_and_english(item):
    assert re.fullmatch(rf"{item.complaint}\.[a-z_]+", item.key)
    assert item.topic in TOPICS
    assert item.question.endswith("?") and item.question_en.endswith("?")
    assert item.question != item.question_en and item.reason != item.reason_en
    assert "\n" not in item.reason and len(item.reason) <= 120, "the reason is one short line"


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.key)
def test_it_counts_an_item_as_covered_when_the_doctor_reads_its_question(item):
    engine = LocalSuggestionEngine(KB)
    assert item.key in engine.covered_keys([Utterance("doctor", item.question)])


def test_it_loads_the_same_knowledge_base_every_time():
    again = load_knowledge_base(KB_DIR)
    assert list(again.items_by_key) == list(KB.items_by_key)


def _write_kb(tmp_path, complaint_yaml: str):
    (tmp_path / "_common.yaml").write_text((KB_DIR / "_common.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "broken.yaml").write_text(complaint_yaml, encoding="utf-8")
    return tmp_path


def test_it_names_the_file_and_field_when_an_item_lacks_its_english_question(tmp_path):
    source = (KB_DIR / "tosse.yaml").read_text(encoding="utf-8")
    broken = source.replace('    question_en: "Have you coughed up blood, or seen blood in the phlegm?"\n', "", 1)
    assert broken != source
    with pytest.raises(KnowledgeBaseError, match=r"broken\.yaml items\[\d+\]: 'question_en'"):
        load_knowledge_base(_write_kb(tmp_path, broken))


def test_it_rejects_a_complaint_with_too_short_a_checklist(tmp_path):
    yaml_text = """
key: pouco
name: Pouco
name_en: Little
detect: ["pouco"]
items:
  - id: alerta
    topic: red_flag
    red_flag: true
    question: "Algo grave?"
    question_en: "Anything serious?"
    reason: "Motivo."
    reason_en: "Reason."
    mentions: ["grave"]
  - id: inicio
    template: onset
"""
    with pytest.raises(KnowledgeBaseError, match="checklist items"):
        load_knowledge_base(_write_kb(tmp_path, yaml_text))


def test_it_rejects_an_unknown_topic(tmp_path):
    source = (KB_DIR / "tosse.yaml").read_text(encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="unknown topic 'smell'"):
        load_knowledge_base(_write_kb(tmp_path, source.replace("topic: character", "topic: smell", 1)))
