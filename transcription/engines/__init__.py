"""Speech-to-text engines. `get_engine()` returns the one chosen by TRANSCRIPTION_ENGINE, created once
per process (the local model is loaded once per worker process and shared by its threads)."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TranscriptionResult:
    text: str
    language: str
    avg_logprob: float | None
    engine: str


class TranscriptionError(Exception):
    """The engine could not produce a transcript; the message is safe to log (no audio, no text)."""


class Engine:
    name = "engine"

    def transcribe(self, pcm: np.ndarray) -> TranscriptionResult:  # pragma: no cover - interface
        raise NotImplementedError


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(name: str | None = None) -> Engine:
    from django.conf import settings

    name = name or settings.TRANSCRIPTION_ENGINE
    if name == "openai":
        from .openai import OpenAIEngine

        return OpenAIEngine.from_settings()  # stateless: settings are read on each use
    if name != "faster_whisper":
        raise TranscriptionError(f"Unknown TRANSCRIPTION_ENGINE {name!r}: use 'faster_whisper' (local) or 'openai'.")
    from .faster_whisper import FasterWhisperEngine

    key = f"{name}:{settings.WHISPER_MODEL}:{settings.WHISPER_DEVICE}:{settings.WHISPER_COMPUTE_TYPE}"
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = FasterWhisperEngine.from_settings()
        return engine


def pcm16_to_float32(pcm: np.ndarray | bytes) -> np.ndarray:
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        pcm = np.frombuffer(pcm, dtype="<i2")
    return pcm.astype(np.float32) / 32768.0
