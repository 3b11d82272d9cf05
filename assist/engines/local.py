"""The offline engines: `transcription.suggestions.LocalSuggestionEngine` for questions and the
extractive SOAP draft (`assist.notes`), timed so their compute seconds are accounted for."""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from transcription.suggestions import LocalSuggestionEngine, Utterance

from . import EngineOutput, UsageRecord

_engine: LocalSuggestionEngine | None = None


def shared_local_engine() -> LocalSuggestionEngine:
    """One engine per process: the knowledge base loads once and its analysis cache is shared."""
    global _engine
    if _engine is None:
        _engine = LocalSuggestionEngine()
    return _engine


class LocalEngine:
    name = "local"

    def suggest(self, utterances: Sequence[Utterance], *, exclude_keys: Iterable[str] = (), limit: int = 3,
                exclude_texts: Iterable[str] = (), source: str = "local") -> EngineOutput:
        start = time.perf_counter()
        engine = shared_local_engine()
        blocked = set(exclude_texts)
        # Ask for a few more than needed so that questions excluded by text still leave `limit`.
        candidates = [c for c in engine.suggest(utterances, exclude_keys=exclude_keys, limit=limit + len(blocked))
                      if c.text not in blocked][:limit]
        usage = UsageRecord(engine="local", compute_seconds=time.perf_counter() - start)
        return EngineOutput(candidates, source, [usage])

    def note_draft(self, utterances: Sequence[Utterance], *, source: str = "local") -> EngineOutput:
        from assist.notes import extractive_draft

        start = time.perf_counter()
        draft = extractive_draft(utterances, shared_local_engine())
        return EngineOutput(draft, source, [UsageRecord(engine="local", compute_seconds=time.perf_counter() - start)])
