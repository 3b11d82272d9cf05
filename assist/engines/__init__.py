"""Suggestion and note-draft engines of the assistant.

Every engine answers with an `EngineOutput`: what it produced, the source label saved with it
("local", "llm:<model>", "local (llm fallback: timeout)") and the `UsageRecord`s of the calls it
made, which `services.ai_usage_record` turns into `AIUsage` rows. Engines do no database I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UsageRecord:
    engine: str  # "local" | "llm"
    model: str = ""
    ok: bool = True
    tokens_in: int = 0
    tokens_out: int = 0
    compute_seconds: float = 0.0


@dataclass
class EngineOutput:
    value: Any  # list[SuggestionCandidate] or a SOAP dict
    source: str
    usage: list[UsageRecord] = field(default_factory=list)


def suggestion_engine(name: str | None = None):
    """The engine chosen by SUGGESTION_ENGINE (read on each call, so tests and admins can switch)."""
    from django.conf import settings

    name = name or settings.SUGGESTION_ENGINE
    if name == "llm":
        from .llm import LLMEngine

        return LLMEngine.from_settings()
    from .local import LocalEngine

    return LocalEngine()
