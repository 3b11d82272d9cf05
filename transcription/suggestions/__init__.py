"""Anamnesis suggestions: follow-up questions proposed to the doctor while taking the history.

`LocalSuggestionEngine` is the offline, deterministic engine backed by the knowledge base in
`kb/*.yaml`. Other engines (an LLM one) produce the same `SuggestionCandidate`s and fall back to it.
"""

from .engine import LocalSuggestionEngine, SuggestionCandidate, Utterance
from .kb import KnowledgeBase, KnowledgeBaseError, default_knowledge_base, load_knowledge_base

__all__ = [
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LocalSuggestionEngine",
    "SuggestionCandidate",
    "Utterance",
    "default_knowledge_base",
    "load_knowledge_base",
]
