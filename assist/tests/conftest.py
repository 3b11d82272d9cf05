"""Fixtures of the assistant tests: an OpenAI-compatible double, and transcripts as saved segments."""
from __future__ import annotations

import pytest

from .doubles.openai_chat import OpenAIChatDouble

# A realistic in-person history as speech recognition returns it (lay terms, a missing accent).
HEADACHE_WITH_FEVER = [
    ("doctor", "Bom dia, dona Maria. O que a senhora está sentindo?"),
    ("patient", "Doutor, tô com uma dor de cabeça muito forte desde ontem e tô com febre, 38 e meio."),
    ("doctor", "A dor começou de repente ou foi aos poucos?"),
    ("patient", "Foi piorando aos poucos, começou atrás dos olhos. Tomei dipirona mas nao passou."),
    ("doctor", "Vou examinar. Temperatura 38,4 graus, pressão 12 por 8."),
    ("doctor", "Parece ser um quadro viral, mas precisamos descartar meningite."),
    ("doctor", "Vou prescrever dipirona de 6 em 6 horas e solicitar um hemograma. Retorno em dois dias."),
]


@pytest.fixture
def chat_double():
    double = OpenAIChatDouble().start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def llm_settings(settings, chat_double):
    settings.SUGGESTION_ENGINE = "llm"
    settings.LLM_BASE_URL = chat_double.base_url
    settings.LLM_API_KEY = chat_double.api_key
    settings.LLM_MODEL = "gpt-4o-mini"
    settings.LLM_API_VERSION = ""
    settings.LLM_TIMEOUT = 1.0
    return settings


@pytest.fixture
def say(consultation):
    """say(speaker, text) saves a final transcript segment of `consultation` (what the STT pipeline does)."""
    import uuid

    from transcription.models import TranscriptSegment

    clock = {"ms": 0}

    def _say(speaker: str, text: str, target=None):
        start = clock["ms"]
        clock["ms"] += 3000
        return TranscriptSegment.objects.create(
            consultation=target or consultation, utterance_key=uuid.uuid4(), speaker=speaker, text=text,
            start_ms=start, end_ms=start + 2500, language="pt", engine="faster_whisper")

    return _say
