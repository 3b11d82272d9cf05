"""Suggestions persistence: refreshed after each final segment, at most three, red flags first, one
row per question (never suggested twice), status changes count as coverage, and the per-consultation
switch stops them. Also the transcription pipeline hook and the live event."""
import uuid

import numpy as np
import pytest

from assist.models import AIUsage, Suggestion
from assist.services import suggestion_set_status, suggestions_refresh, suggestions_toggle
from audit.models import AuditEvent

from .conftest import HEADACHE_WITH_FEVER

pytestmark = pytest.mark.django_db


def test_it_shows_at_most_three_with_red_flags_first(consultation, say):
    say(*HEADACHE_WITH_FEVER[1])
    shown = suggestions_refresh(consultation_id=consultation.pk)

    assert 1 <= len(shown) <= 3
    assert shown[0].red_flag and shown[0].key == "cefaleia.rigidez_nuca"  # fever boosts the meningitis screen
    flags = [s.red_flag for s in shown]
    assert flags == sorted(flags, reverse=True)
    assert {s.source for s in shown} == {"local"}
    assert AuditEvent.objects.filter(action="suggestions.shown", target_id=str(consultation.pk)).count() == 1


def test_it_suggests_nothing_from_small_talk(consultation, say):
    say("doctor", "Bom dia! Pode entrar, fique à vontade.")
    say("patient", "Bom dia, doutor. Trânsito terrível hoje.")
    assert suggestions_refresh(consultation_id=consultation.pk) == []
    assert not Suggestion.objects.exists()


def test_it_never_creates_duplicates_on_repeated_refreshes(consultation, say):
    say(*HEADACHE_WITH_FEVER[1])
    first = [s.pk for s in suggestions_refresh(consultation_id=consultation.pk)]
    second = [s.pk for s in suggestions_refresh(consultation_id=consultation.pk)]
    assert first == second
    assert Suggestion.objects.filter(consultation=consultation).count() == len(first)
    assert AuditEvent.objects.filter(action="suggestions.shown").count() == 1  # nothing new the second time


def test_it_treats_asked_and_dismissed_as_covered(consultation, say, ctx_alice):
    say(*HEADACHE_WITH_FEVER[1])
    top, *_ = suggestions_refresh(consultation_id=consultation.pk)
    asked = suggestion_set_status(ctx=ctx_alice, suggestion=top, status="asked")
    assert asked.status == "asked" and asked.status_changed_by == alice_user(ctx_alice)

    visible = list(Suggestion.objects.filter(consultation=consultation, status="shown", active=True))
    assert top.pk not in [s.pk for s in visible] and len(visible) == 3
    nxt = visible[0]
    suggestion_set_status(ctx=ctx_alice, suggestion=nxt, status="dismissed")
    again = suggestions_refresh(consultation_id=consultation.pk)
    assert {top.key, nxt.key}.isdisjoint({s.key for s in again})
    assert AuditEvent.objects.filter(action="suggestion.asked", actor=ctx_alice.user).count() == 1
    assert AuditEvent.objects.filter(action="suggestion.dismissed", actor=ctx_alice.user).count() == 1


def alice_user(ctx):
    return ctx.user


def test_it_marks_a_shown_question_asked_once_the_conversation_covers_it(consultation, say):
    say(*HEADACHE_WITH_FEVER[1])
    shown = suggestions_refresh(consultation_id=consultation.pk)
    assert "cefaleia.rigidez_nuca" in [s.key for s in shown]
    say("doctor", "A senhora consegue encostar o queixo no peito? O pescoço está duro?")
    after = suggestions_refresh(consultation_id=consultation.pk)

    neck = Suggestion.objects.get(consultation=consultation, key="cefaleia.rigidez_nuca")
    assert neck.status == "asked" and neck.status_changed_by is None  # said aloud, not clicked
    assert neck.pk not in [s.pk for s in after]


def test_it_stops_suggesting_when_turned_off(consultation, say, ctx_alice, django_capture_on_commit_callbacks):
    say(*HEADACHE_WITH_FEVER[1])
    assert suggestions_refresh(consultation_id=consultation.pk)
    events = []
    with django_capture_on_commit_callbacks(execute=True):
        suggestions_toggle(ctx=ctx_alice, consultation=consultation, enabled=False,
                           publish=lambda group, event: events.append(event))
    assert events[-1]["enabled"] is False and events[-1]["suggestions"] == []
    before = Suggestion.objects.count()
    say("patient", "E também tô com o pescoço duro e vomitei duas vezes.")
    assert suggestions_refresh(consultation_id=consultation.pk) == []
    assert Suggestion.objects.count() == before
    assert not Suggestion.objects.filter(active=True, status="shown").exists()
    assert AuditEvent.objects.filter(action="suggestions.disabled", actor=ctx_alice.user).exists()

    suggestions_toggle(ctx=ctx_alice, consultation=consultation, enabled=True)
    assert Suggestion.objects.filter(active=True, status="shown").exists()


def test_it_publishes_the_visible_list_after_commit(consultation, say, django_capture_on_commit_callbacks):
    say(*HEADACHE_WITH_FEVER[1])
    events = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        shown = suggestions_refresh(consultation_id=consultation.pk, segment_id=7,
                                    publish=lambda group, event: events.append((group, event)))
    assert events == []  # nothing is sent before the commit
    for callback in callbacks:
        callback()
    (group, event), = events
    assert group == f"consultation.{consultation.pk}"
    assert event["type"] == "suggestions.updated" and event["segment_id"] == 7 and event["enabled"] is True
    assert [s["id"] for s in event["suggestions"]] == [s.pk for s in shown]
    assert set(event["suggestions"][0]) >= {"id", "text", "reason", "topic", "red_flag", "status", "source"}


def _wav_utterance(consultation, recordings_dir):
    from transcription.services import utterance_enqueue

    pcm = (np.sin(np.linspace(0, 2000, 16000 * 2)) * 3000).astype("<i2")
    return utterance_enqueue(consultation_id=consultation.pk, speaker="patient", start_ms=0, end_ms=2000, pcm=pcm,
                             key=uuid.uuid4())


@pytest.mark.django_db(transaction=True)
def test_it_refreshes_after_a_transcribed_segment_and_accounts_the_stt_call(consultation, settings, tmp_path):
    """The real pipeline (`utterance_transcribe`) with the openai STT engine pointed at its double."""
    from transcription.services import utterance_transcribe
    from transcription.tests.doubles import OpenAISTTDouble

    settings.RECORDINGS_DIR = tmp_path
    settings.CELERY_TASK_ALWAYS_EAGER = True  # embedded mode: the refresh runs in the STT thread, right after commit
    settings.TRANSCRIPTION_ENGINE = "openai"
    settings.OPENAI_STT_API_KEY = "sk-test"
    settings.OPENAI_STT_RETRIES = 0
    events = []
    with OpenAISTTDouble(text="Tô com dor de cabeça forte e febre desde ontem.") as double:
        settings.OPENAI_STT_BASE_URL = double.base_url
        utterance = _wav_utterance(consultation, tmp_path)
        outcome = utterance_transcribe(utterance_id=utterance.pk, publish=lambda g, e: events.append(e))
    assert outcome.status == "saved"
    assert [e["type"] for e in events] == ["transcript.final", "suggestions.updated"]
    assert events[1]["segment_id"] == outcome.segment.pk
    assert any(s["red_flag"] for s in events[1]["suggestions"])
    stt = AIUsage.objects.get(kind="transcription")
    assert (stt.engine, stt.model, stt.audio_seconds, stt.ok) == ("openai", "whisper-1", 2.0, True)
    assert str(stt.cost) == "0.000200"  # 2 s at 0.006 per minute
    assert AIUsage.objects.filter(kind="suggestions", engine="local", consultation=consultation).exists()
