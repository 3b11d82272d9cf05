"""Per-complaint behaviour of the local engine on transcripts as speech recognition hands them over:
lay Brazilian Portuguese, missing accents, split or merged words."""

from dataclasses import dataclass

import pytest

from transcription.suggestions import LocalSuggestionEngine, Utterance


@dataclass(frozen=True)
class Case:
    complaint: str
    opening: str  # the patient's first words about the complaint
    doctor_asks: str  # the doctor asks a red-flag question in their own words
    asked_key: str
    volunteered: str  # the patient answers a checklist item nobody asked yet
    volunteered_key: str


CASES = [
    Case(
        "cefaleia",
        "to com uma dordecabeça horrivel desde ontem, doutor",
        "A dor veio de repente, assim do nada, como uma pancada?",
        "cefaleia.inicio_subito",
        "ela lateja bem aqui do lado direito",
        "cefaleia.carater",
    ),
    Case(
        "dor_toracica",
        "sinto uma pressao no peito, tipo um peso, desde cedo",
        "Essa dor corre pro braço ou pro queixo?",
        "dor_toracica.irradiacao",
        "tomo losartana pra pressão",
        "dor_toracica.medicacoes",
    ),
    Case(
        "febre",
        "tô com febre desde anteontem, ontem a noite deu trinta e nove",
        "Tem alguma mancha roxinha na pele?",
        "febre.manchas_pele",
        "meu filho também tá gripado em casa",
        "febre.exposicao",
    ),
    Case(
        "dor_abdominal",
        "tô com uma dor de barriga forte aqui embaixo do lado direito",
        "Vomitou sangue ou o cocô tá saindo preto?",
        "dor_abdominal.sangramento",
        "é tipo uma colica que vai e volta",
        "dor_abdominal.carater",
    ),
    Case(
        "dispneia",
        "doutor to com uma falta de ar que nao passa, cansaço pra subir escada",
        "Mesmo sentado, parado, a senhora sente falta de ar?",
        "dispneia.repouso_fala",
        "piora quando eu deito, tenho que dormir com dois travesseiros",
        "dispneia.ortopneia",
    ),
    Case(
        "tosse",
        "to tossindo muito faz umas tres semanas",
        "Saiu sangue com essa tosse?",
        "tosse.hemoptise",
        "é uma tosse seca, nao sai catarro",
        "tosse.tipo",
    ),
    Case(
        "dor_lombar",
        "travou minha coluna, to com uma dor nas costas que nao deixa eu levantar",
        "Conseguiu segurar o xixi e as fezes normalmente?",
        "dor_lombar.cauda_equina",
        "a dor desce pela perna até o pé",
        "dor_lombar.irradiacao",
    ),
    Case(
        "diarreia",
        "to com uma caganeira desde ontem, intestino solto demais",
        "Tá bebendo líquido? Tá com muita sede, urinando pouco?",
        "diarreia.desidratacao",
        "comi uma maionese num churrasco no domingo",
        "diarreia.alimentos_contatos",
    ),
    Case(
        "disuria",
        "ta ardendo pra fazer xixi, queima muito",
        "Tem febre ou dor nas costas?",
        "disuria.pielonefrite",
        "to indo no banheiro toda hora e sai só um pouquinho",
        "disuria.frequencia_urgencia",
    ),
    Case(
        "tontura",
        "to com uma zonzeira, parece que tudo fica girando",
        "Notou fala enrolada ou fraqueza de um lado?",
        "tontura.neurologico",
        "piora quando eu viro a cabeça na cama",
        "tontura.posicao",
    ),
    Case(
        "dor_garganta",
        "minha garganta ta inflamada, doi pra engolir",
        "Tá conseguindo engolir a saliva? Sente falta de ar?",
        "dor_garganta.via_aerea",
        "tive febre de trinta e oito ontem",
        "dor_garganta.febre",
    ),
    Case(
        "lesao_pele",
        "apareceram umas manchas vermelhas no braço que coçam muito",
        "Inchou lábio, olho ou língua? Teve falta de ar?",
        "lesao_pele.anafilaxia",
        "começou depois que usei um sabonete novo",
        "lesao_pele.gatilhos",
    ),
    Case(
        "ansiedade",
        "ando muito ansiosa, com crise de panico no trabalho",
        "Já pensou em se machucar ou em tirar a própria vida?",
        "ansiedade.risco_suicidio",
        "nao consigo dormir direito, acordo de madrugada",
        "ansiedade.sono_apetite",
    ),
    Case(
        "dor_articular",
        "meu joelho ta doendo e inchado faz dois dias",
        "O joelho tá quente, vermelho? Teve febre?",
        "dor_articular.septica",
        "de manhã fica duro, demora pra soltar",
        "dor_articular.rigidez",
    ),
    Case(
        "palpitacoes",
        "sinto uma batedeira, o coração dispara do nada",
        "Já desmaiou ou sentiu dor no peito quando acontece?",
        "palpitacoes.sincope_dor",
        "acontece mais quando tomo muito café",
        "palpitacoes.gatilhos",
    ),
]


@pytest.fixture(scope="module")
def engine():
    return LocalSuggestionEngine()


def _conversation(*turns):
    return [Utterance(speaker, text) for speaker, text in turns]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.complaint)
def test_it_detects_the_complaint_from_lay_words(engine, case):
    conversation = _conversation(("doctor", "Bom dia, o que traz você aqui hoje?"), ("patient", case.opening))
    assert engine.detect_complaints(conversation)[0] == case.complaint


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.complaint)
def test_it_puts_a_red_flag_of_the_complaint_first(engine, case):
    suggestions = engine.suggest(_conversation(("patient", case.opening)))
    assert 1 <= len(suggestions) <= 3
    assert suggestions[0].red_flag and suggestions[0].complaint == case.complaint
    flags = [s.red_flag for s in suggestions]
    assert flags == sorted(flags, reverse=True), "no red flag after an ordinary question"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.complaint)
def test_it_drops_a_question_once_the_doctor_has_asked_it(engine, case):
    before = _conversation(("patient", case.opening))
    assert case.asked_key not in engine.covered_keys(before)
    after = [*before, Utterance("doctor", case.doctor_asks), Utterance("patient", "não, isso não")]
    assert case.asked_key in engine.covered_keys(after)
    assert case.asked_key not in {s.key for s in engine.suggest(after, limit=20)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.complaint)
def test_it_drops_a_question_the_patient_already_answered(engine, case):
    before = _conversation(("patient", case.opening))
    assert case.volunteered_key in {s.key for s in engine.suggest(before, limit=20)}
    after = [*before, Utterance("patient", case.volunteered)]
    assert case.volunteered_key not in {s.key for s in engine.suggest(after, limit=20)}
