"""LocalSuggestionEngine: what it suggests, in which order, and when it stays quiet."""

import pytest

from transcription.suggestions import LocalSuggestionEngine, SuggestionCandidate, Utterance


@pytest.fixture(scope="module")
def engine():
    return LocalSuggestionEngine()


def _conversation(*turns):
    return [Utterance(speaker, text) for speaker, text in turns]


HEADACHE_WITH_FEVER = _conversation(
    ("doctor", "Bom dia, dona Maria, o que a senhora está sentindo?"),
    ("patient", "Ai doutor, uma dor de cabeça que não passa, e tô com febre desde ontem"),
)


@pytest.mark.parametrize(
    "conversation",
    [
        [],
        _conversation(("doctor", ""), ("patient", "   ")),
        _conversation(("doctor", "Bom dia, tudo bem?"), ("patient", "Tudo bem, doutor, e o senhor?")),
        _conversation(("doctor", "Tá me ouvindo? A imagem travou aqui."), ("patient", "Agora sim, tô te ouvindo bem")),
        _conversation(("unknown", "Pode sentar, fique à vontade."), ("unknown", "Obrigada. Tá calor hoje, né?")),
    ],
    ids=["nothing", "silence", "greetings", "connection-check", "small-talk-one-mic"],
)
def test_it_suggests_nothing_from_silence_or_small_talk(engine, conversation):
    assert engine.detect_complaints(conversation) == []
    assert engine.suggest(conversation) == []


def test_it_does_not_take_the_doctors_question_as_the_patients_complaint(engine):
    conversation = _conversation(("doctor", "Tem febre? Dor de cabeça? Falta de ar?"), ("patient", "Não, nada disso."))
    assert engine.detect_complaints(conversation) == []
    assert engine.suggest(conversation) == []


def test_it_does_not_take_a_denied_symptom_as_a_complaint(engine):
    conversation = _conversation(("patient", "Não tenho febre, nem falta de ar. É só essa tosse seca."))
    assert engine.detect_complaints(conversation) == ["tosse"]


def test_it_orders_complaints_by_salience(engine):
    conversation = _conversation(
        ("patient", "Tô com tosse e um pouco de febre"),
        ("patient", "Mas o que me incomoda mesmo é a tosse, tosso a noite inteira"),
    )
    assert engine.detect_complaints(conversation) == ["tosse", "febre"]


def test_it_suggests_the_meningitis_screen_for_a_headache_with_fever(engine):
    suggestions = engine.suggest(HEADACHE_WITH_FEVER)
    assert [s.key for s in suggestions][:2] == ["cefaleia.rigidez_nuca", "febre.manchas_pele"]
    assert all(s.red_flag for s in suggestions)


def test_it_returns_candidates_with_both_languages_and_a_topic(engine):
    first = engine.suggest(HEADACHE_WITH_FEVER)[0]
    assert isinstance(first, SuggestionCandidate)
    assert first.key == "cefaleia.rigidez_nuca" and first.complaint == "cefaleia"
    assert "nuca" in first.text and "neck" in first.text_en
    assert first.reason and first.reason_en and first.topic == "associated"


def test_it_suggests_at_most_three_by_default_and_honours_the_limit(engine):
    assert len(engine.suggest(HEADACHE_WITH_FEVER)) == 3
    assert len(engine.suggest(HEADACHE_WITH_FEVER, limit=1)) == 1
    assert engine.suggest(HEADACHE_WITH_FEVER, limit=0) == []
    assert len(engine.suggest(HEADACHE_WITH_FEVER, limit=50)) > 10


def test_it_lists_every_red_flag_before_any_ordinary_question(engine):
    suggestions = engine.suggest(HEADACHE_WITH_FEVER, limit=50)
    flags = [s.red_flag for s in suggestions]
    assert flags == sorted(flags, reverse=True)
    assert flags.count(True) >= 4


def test_it_honours_exclude_keys(engine):
    first = engine.suggest(HEADACHE_WITH_FEVER)
    dismissed = {first[0].key, first[1].key}
    again = engine.suggest(HEADACHE_WITH_FEVER, exclude_keys=dismissed)
    assert dismissed.isdisjoint(s.key for s in again)
    assert again[0].key == first[2].key
    assert len(again) == 3


def test_it_moves_on_when_the_doctor_asks_and_the_patient_answers(engine):
    conversation = [
        *HEADACHE_WITH_FEVER,
        Utterance("doctor", "A senhora consegue encostar o queixo no peito? A nuca tá dura?"),
        Utterance("patient", "Consigo sim, o pescoço tá normal"),
        Utterance("doctor", "E apareceu alguma mancha na pele?"),
        Utterance("patient", "Não vi nenhuma mancha não"),
    ]
    covered = engine.covered_keys(conversation)
    assert {"cefaleia.rigidez_nuca", "febre.manchas_pele"} <= covered
    keys = [s.key for s in engine.suggest(conversation)]
    assert "cefaleia.rigidez_nuca" not in keys and "febre.manchas_pele" not in keys
    assert keys[0] == "cefaleia.inicio_subito"


def test_it_counts_an_answer_given_before_anyone_asked(engine):
    conversation = _conversation(("patient", "Tô com dor de cabeça desde ontem, sou alérgica a dipirona"))
    covered = engine.covered_keys(conversation)
    assert {"cefaleia.inicio", "cefaleia.alergias"} <= covered
    keys = {s.key for s in engine.suggest(conversation, limit=50)}
    assert "cefaleia.inicio" not in keys and "cefaleia.alergias" not in keys


def test_it_does_not_repeat_a_generic_question_under_two_complaints(engine):
    suggestions = engine.suggest(HEADACHE_WITH_FEVER, limit=50)
    texts = [s.text for s in suggestions]
    assert len(texts) == len(set(texts))
    assert texts.count("Tem alergia a algum medicamento?") == 1


def test_it_treats_a_dismissed_generic_question_as_dismissed_everywhere(engine):
    suggestions = engine.suggest(HEADACHE_WITH_FEVER, exclude_keys={"cefaleia.alergias"}, limit=50)
    assert "Tem alergia a algum medicamento?" not in [s.text for s in suggestions]


def test_it_reads_a_single_microphone_as_both_speakers(engine):
    conversation = _conversation(
        ("unknown", "O que a senhora tem?"),
        ("unknown", "Uma dor no peito, tipo um aperto"),
        ("unknown", "Essa dor vai pro braço?"),
    )
    assert engine.detect_complaints(conversation) == ["dor_toracica"]
    assert "dor_toracica.irradiacao" in engine.covered_keys(conversation)


def test_it_gives_the_same_answer_every_time(engine):
    first = engine.suggest(HEADACHE_WITH_FEVER, limit=50)
    assert LocalSuggestionEngine().suggest(HEADACHE_WITH_FEVER, limit=50) == first
    assert engine.suggest(list(HEADACHE_WITH_FEVER), limit=50) == first


def test_it_reads_a_denial_only_up_to_the_comma(engine):
    conversation = _conversation(("patient", "Não, doutor, tô com dor de cabeça desde ontem"))
    assert engine.detect_complaints(conversation) == ["cefaleia"]


def test_it_lets_the_caller_leave_out_questions_that_do_not_apply_to_the_patient(engine):
    conversation = _conversation(("patient", "Tá ardendo pra fazer xixi, doutor"))
    for_her = [s.key for s in engine.suggest(conversation)]
    assert "disuria.gravidez" in for_her
    for_him = engine.suggest(conversation, exclude_keys=engine.kb.inapplicable_keys(patient_sex="male"))
    assert "disuria.gravidez" not in [s.key for s in for_him]
    assert engine.kb.inapplicable_keys(patient_sex="unknown") == frozenset()
    assert engine.kb.inapplicable_keys(patient_sex="female") == frozenset()
