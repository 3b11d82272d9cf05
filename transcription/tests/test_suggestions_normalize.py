"""Normalisation of transcript text: accents, case, plurals, lay terms and speech-recognition slips."""

import pytest

from transcription.suggestions import default_knowledge_base
from transcription.suggestions.normalize import CLAUSE, PAUSE, Normalizer, basic_tokens, fold


@pytest.fixture(scope="module")
def normalizer():
    return default_knowledge_base().normalizer


def test_it_lowercases_and_strips_accents():
    assert basic_tokens("Náusea DIÁRIA, Coração. Rim") == ["nausea", "diaria", PAUSE, "coracao", CLAUSE, "rim"]


def test_it_folds_singular_and_plural_to_the_same_stem():
    assert fold("dores") == fold("dor")
    assert fold("crises") == fold("crise")
    assert fold("palpitações".replace("õ", "o").replace("ç", "c")) == fold("palpitacao")
    assert fold("dias") == fold("dia")


def test_it_does_not_fold_dois_into_doi():
    # "dois dias" must not read as "dói" (it hurts).
    assert fold("dois") != fold("doi")


def test_it_expands_spoken_contractions(normalizer):
    assert normalizer.tokens("tô com dor pra engolir") == normalizer.tokens("estou com dor para engolir")


@pytest.mark.parametrize(
    ("lay", "canonical"),
    [
        ("falta de ar", "dispneia"),
        ("Tô sem fôlego", "estou dispneia"),
        ("dor de cabeça", "cefaleia"),
        ("DORES DE CABECA", "cefaleia"),
        ("caganeira", "diarreia"),
        ("intestino solto", "diarreia"),
        ("zonzeira", "tontura"),
        ("coração disparado", "palpitacao"),
        ("fazer xixi", "urinar"),
        ("pressão alta", "hipertensao"),
        ("nuca dura", "rigideznuca"),
    ],
)
def test_it_rewrites_lay_terms_to_one_canonical_word(normalizer, lay, canonical):
    assert normalizer.tokens(lay) == normalizer.tokens(canonical)


def test_it_joins_words_split_by_speech_recognition(normalizer):
    assert normalizer.tokens("dis pneia") == normalizer.tokens("dispneia")


def test_it_splits_words_merged_by_speech_recognition(normalizer):
    assert normalizer.tokens("dordecabeça") == normalizer.tokens("dor de cabeça")


def test_it_repairs_a_one_letter_typo_in_a_long_clinical_word(normalizer):
    assert normalizer.tokens("dispinéia") == normalizer.tokens("dispneia")
    assert normalizer.tokens("diarreira") == normalizer.tokens("diarreia")


def test_it_leaves_short_everyday_words_alone(normalizer):
    # "feito" is one letter away from "peito" but is a different word.
    assert normalizer.tokens("tenho feito caminhada") == ("tenho", "feito", "caminhada")


def test_a_gap_steps_over_a_comma_but_never_crosses_a_sentence_boundary():
    normalizer = Normalizer()
    pattern = normalizer.compile("nuca * dura")
    assert pattern.find(normalizer.tokens("a nuca ficou dura")) == 1
    assert pattern.find(normalizer.tokens("E a nuca, tá dura?")) == 2
    assert pattern.find(normalizer.tokens("Dói na nuca. Dura o dia todo")) is None
    assert pattern.find(normalizer.tokens("nuca muito muito muito muito dura")) is None


def test_prefixes_and_alternatives_match_inflections():
    normalizer = Normalizer()
    pattern = normalizer.compile("comec* ontem|hoje|anteontem")
    assert pattern.find(normalizer.tokens("começou hoje de manhã")) == 0
    assert pattern.find(normalizer.tokens("começando anteontem")) == 0
    assert pattern.find(normalizer.tokens("começou semana passada")) is None


def test_pattern_syntax_in_a_transcript_is_ignored(normalizer):
    assert normalizer.tokens("dor * | {num} #") == normalizer.tokens("dor num")


def test_it_rejects_malformed_patterns():
    normalizer = Normalizer()
    with pytest.raises(ValueError):
        normalizer.compile("* dor")
    with pytest.raises(ValueError):
        normalizer.compile("do* cabeca")
