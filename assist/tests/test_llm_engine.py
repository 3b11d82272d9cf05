"""The `llm` suggestion engine against OpenAIChatDouble: a valid answer is used; invalid JSON, a
schema mismatch, a timeout and a server error each fall back to the local engine, say so in the
source, and are accounted for in AIUsage (the failed call and the local one)."""
from decimal import Decimal

import pytest

from assist.models import AIUsage, Suggestion
from assist.services import note_draft_generate, suggestions_refresh

from .conftest import HEADACHE_WITH_FEVER

pytestmark = pytest.mark.django_db

LLM_ANSWER = {"suggestions": [
    {"question": "Tem dificuldade de encostar o queixo no peito?", "reason": "Rigidez de nuca sugere meningite.",
     "topic": "associated", "red_flag": True},
    {"question": "Alguém em casa está com sintomas parecidos?", "reason": "Contato sugere causa infecciosa.",
     "topic": "exposure", "red_flag": False},
]}


def _talk(say, lines=HEADACHE_WITH_FEVER[:2]):
    for speaker, text in lines:
        say(speaker, text)


def test_it_uses_the_llm_answer_and_accounts_its_tokens(llm_settings, chat_double, consultation, say):
    chat_double.content = LLM_ANSWER
    _talk(say)
    shown = suggestions_refresh(consultation_id=consultation.pk)

    assert [s.text for s in shown] == [q["question"] for q in LLM_ANSWER["suggestions"]]
    assert shown[0].red_flag and shown[0].source == "llm:gpt-4o-mini"
    request = chat_double.requests[-1]
    assert request["path"] == "/chat/completions" and request["body"]["model"] == "gpt-4o-mini"
    assert request["body"]["response_format"] == {"type": "json_object"}
    assert "dor de cabeça" in request["body"]["messages"][1]["content"]  # the transcript window went out
    usage = AIUsage.objects.get(kind="suggestions")
    assert (usage.engine, usage.ok, usage.tokens_in, usage.tokens_out) == ("llm", True, 120, 30)
    # default price table for "llm": 0.00015 / 1k in, 0.0006 / 1k out
    assert usage.cost == Decimal("0.000036")
    assert usage.doctor_id == consultation.doctor_id and usage.clinic_id == consultation.clinic_id


@pytest.mark.parametrize("mode, reason", [
    ("invalid_json", "invalid JSON"),
    ("schema", "schema mismatch at root"),
    ("timeout", "timeout"),
    ("error", "HTTP 500"),
])
def test_it_falls_back_to_local_and_says_so(llm_settings, chat_double, consultation, say, mode, reason):
    chat_double.mode = mode
    _talk(say)
    shown = suggestions_refresh(consultation_id=consultation.pk)

    assert shown, "the local engine answered instead"
    assert {s.source for s in shown} == {f"local (llm fallback: {reason})"}
    assert shown[0].red_flag and shown[0].key.startswith(("cefaleia.", "febre."))
    failed = AIUsage.objects.get(kind="suggestions", engine="llm")
    local = AIUsage.objects.get(kind="suggestions", engine="local")
    assert failed.ok is False
    if mode in ("invalid_json", "schema"):  # the endpoint answered: its tokens were spent and are billed
        assert (failed.tokens_in, failed.tokens_out) == (120, 30) and failed.cost > 0
    else:
        assert (failed.tokens_in, failed.tokens_out, failed.cost) == (0, 0, Decimal(0))
    assert local.ok and local.cost == 0 and local.compute_seconds > 0
    if mode == "timeout":
        assert failed.compute_seconds >= llm_settings.LLM_TIMEOUT * 0.9


def test_it_calls_the_azure_deployment_path_with_the_api_key_header(llm_settings, chat_double, consultation, say):
    llm_settings.LLM_API_VERSION = "2024-10-21"
    llm_settings.LLM_MODEL = "medcall-gpt4o"
    chat_double.content = LLM_ANSWER
    _talk(say)
    shown = suggestions_refresh(consultation_id=consultation.pk)

    request = chat_double.requests[-1]
    assert request["path"] == "/openai/deployments/medcall-gpt4o/chat/completions"
    assert request["query"]["api-version"] == ["2024-10-21"]
    assert request["headers"]["api-key"] == "sk-test" and "Authorization" not in request["headers"]
    assert shown[0].source == "llm:medcall-gpt4o"


def test_it_makes_no_llm_call_on_small_talk(llm_settings, chat_double, consultation, say):
    say("doctor", "Bom dia, tudo bem? Pode sentar.")
    say("patient", "Tudo ótimo, doutor, obrigada. Que calor hoje, né?")
    assert suggestions_refresh(consultation_id=consultation.pk) == []
    assert chat_double.requests == [] and not AIUsage.objects.filter(engine="llm").exists()


def test_it_never_repeats_a_dismissed_llm_question(llm_settings, chat_double, consultation, say, ctx_alice):
    from assist.services import suggestion_set_status

    chat_double.content = LLM_ANSWER
    _talk(say)
    first = suggestions_refresh(consultation_id=consultation.pk)[0]
    suggestion_set_status(ctx=ctx_alice, suggestion=first, status="dismissed")
    # The model proposes it again: it stays dismissed, and the prompt listed it as done.
    again = suggestions_refresh(consultation_id=consultation.pk)
    assert first.pk not in [s.pk for s in again]
    assert Suggestion.objects.filter(consultation=consultation, text=first.text).count() == 1
    assert first.text in chat_double.requests[-1]["body"]["messages"][1]["content"]


def test_it_drafts_the_note_with_the_llm_or_falls_back(llm_settings, chat_double, consultation, say):
    chat_double.content = {"subjective": "Cefaleia há 1 dia com febre.", "objective": "T 38,4 °C.",
                           "assessment": "Provável quadro viral.", "plan": "Dipirona; hemograma."}
    _talk(say, HEADACHE_WITH_FEVER)
    note = note_draft_generate(consultation_id=consultation.pk)
    assert note.source == "llm:gpt-4o-mini" and note.assessment == "Provável quadro viral."
    assert AIUsage.objects.get(kind="note").tokens_out == 30

    note.delete()
    chat_double.mode = "error"
    note = note_draft_generate(consultation_id=consultation.pk)
    assert note.source == "local (llm fallback: HTTP 500)"
    assert "dipirona" in note.plan.lower()
