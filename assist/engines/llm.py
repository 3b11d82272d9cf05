"""The `llm` engine: any OpenAI- or Azure-OpenAI-compatible chat-completions endpoint (OpenAI,
Azure OpenAI, Ollama, vLLM, LM Studio…).

The model gets the recent transcript window and what is already covered, and must answer JSON that
validates against a schema. Any failure — timeout, HTTP error, non-JSON, schema mismatch — falls
back to the local engine, and the source saved with the result says so ("local (llm fallback:
timeout)"). The failed call is still accounted for (tokens the endpoint reported, time spent).

Health data leaves this machine only when LLM_BASE_URL points elsewhere; nothing is logged but the
failure reason.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx
import jsonschema

from transcription.suggestions import SuggestionCandidate, Utterance
from transcription.suggestions.normalize import strip_accents

from . import EngineOutput, UsageRecord
from .local import LocalEngine, shared_local_engine

log = logging.getLogger(__name__)

TRANSCRIPT_WINDOW = 40  # utterances sent to the model: the recent part of the history is what matters
TOPICS = ["onset", "duration", "intensity", "character", "location", "triggers", "associated", "history",
          "medications", "allergies", "exposure", "red_flag"]

SUGGESTIONS_SCHEMA = {
    "type": "object",
    "required": ["suggestions"],
    "properties": {
        "suggestions": {
            "type": "array",
            "maxItems": 3,
            "items": {
                "type": "object",
                "required": ["question", "reason", "topic", "red_flag"],
                "properties": {
                    "question": {"type": "string", "minLength": 3, "maxLength": 300},
                    "reason": {"type": "string", "maxLength": 300},
                    "topic": {"type": "string", "enum": TOPICS},
                    "red_flag": {"type": "boolean"},
                },
            },
        }
    },
}

NOTE_SCHEMA = {
    "type": "object",
    "required": ["subjective", "objective", "assessment", "plan"],
    "properties": {k: {"type": "string", "maxLength": 20000} for k in ("subjective", "objective", "assessment", "plan")},
}

SUGGEST_SYSTEM = (
    "Você é um assistente de anamnese para médicos brasileiros. A partir da transcrição de uma consulta "
    "(falas do médico e do paciente, com erros de reconhecimento de fala), proponha no máximo 3 perguntas "
    "curtas de seguimento, em português do Brasil, que ainda não foram feitas nem respondidas. Priorize "
    "sinais de alarme (red_flag=true). Se o paciente ainda não relatou queixa, devolva lista vazia. "
    'Responda apenas JSON: {"suggestions": [{"question": str, "reason": str (uma linha), '
    '"topic": one of ' + ", ".join(TOPICS) + ', "red_flag": bool}]}'
)

NOTE_SYSTEM = (
    "Você redige o rascunho da evolução clínica (SOAP) de uma consulta a partir da transcrição, em "
    "português do Brasil, sem inventar dados que não foram ditos. Responda apenas JSON: "
    '{"subjective": str, "objective": str, "assessment": str, "plan": str}'
)


class LLMFailure(Exception):
    def __init__(self, reason: str, usage: UsageRecord):
        super().__init__(reason)
        self.reason = reason
        self.usage = usage


@dataclass(frozen=True)
class ChatEndpoint:
    base_url: str
    api_key: str
    model: str  # the deployment name on Azure
    api_version: str  # non-empty: Azure OpenAI
    timeout: float

    @property
    def is_azure(self) -> bool:
        return bool(self.api_version)

    def url(self) -> str:
        if not self.is_azure:
            return f"{self.base_url}/chat/completions"
        if "/deployments/" in self.base_url:  # the base URL already names the deployment
            return f"{self.base_url}/chat/completions?api-version={self.api_version}"
        return f"{self.base_url}/openai/deployments/{self.model}/chat/completions?api-version={self.api_version}"

    def headers(self) -> dict[str, str]:
        if not self.api_key:
            return {}
        return {"api-key": self.api_key} if self.is_azure else {"Authorization": f"Bearer {self.api_key}"}

    def complete_json(self, system: str, user: str, schema: dict) -> tuple[dict, UsageRecord]:
        """One chat completion whose content must be a JSON object matching `schema`."""
        body = {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        if not self.is_azure:
            body["model"] = self.model
        start = time.perf_counter()
        tokens_in = tokens_out = 0

        def usage(ok: bool) -> UsageRecord:
            return UsageRecord(engine="llm", model=self.model, ok=ok, tokens_in=tokens_in, tokens_out=tokens_out,
                               compute_seconds=time.perf_counter() - start)

        try:
            response = httpx.post(self.url(), json=body, headers=self.headers(), timeout=self.timeout)
        except httpx.TimeoutException:
            raise LLMFailure("timeout", usage(False))
        except httpx.HTTPError as exc:
            raise LLMFailure(f"connection error ({type(exc).__name__})", usage(False))
        if response.status_code != 200:
            raise LLMFailure(f"HTTP {response.status_code}", usage(False))
        try:
            data = response.json()
            reported = data.get("usage") or {}
            tokens_in = int(reported.get("prompt_tokens") or 0)
            tokens_out = int(reported.get("completion_tokens") or 0)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise LLMFailure("malformed response", usage(False))
        try:
            parsed = json.loads(_strip_fences(content or ""))
        except ValueError:
            raise LLMFailure("invalid JSON", usage(False))
        try:
            jsonschema.validate(parsed, schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "root"
            raise LLMFailure(f"schema mismatch at {where}", usage(False))
        return parsed, usage(True)


def _strip_fences(content: str) -> str:
    # Some local models wrap JSON in ```json fences even when asked not to.
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return text


def transcript_window(utterances: Sequence[Utterance]) -> str:
    labels = {"doctor": "Médico", "patient": "Paciente"}
    lines = [f"{labels.get(u.speaker, 'Fala')}: {u.text.strip()}" for u in utterances if u.text and u.text.strip()]
    return "\n".join(lines[-TRANSCRIPT_WINDOW:])


def llm_key(question: str) -> str:
    normal = " ".join(strip_accents(question.lower()).split())
    return "llm." + hashlib.sha1(normal.encode()).hexdigest()[:16]


class LLMEngine:
    name = "llm"

    def __init__(self, endpoint: ChatEndpoint):
        self.endpoint = endpoint
        self.local = LocalEngine()

    @classmethod
    def from_settings(cls) -> LLMEngine:
        from django.conf import settings

        return cls(ChatEndpoint(base_url=settings.LLM_BASE_URL, api_key=settings.LLM_API_KEY, model=settings.LLM_MODEL,
                                api_version=settings.LLM_API_VERSION, timeout=settings.LLM_TIMEOUT))

    @property
    def source(self) -> str:
        return f"llm:{self.endpoint.model}"

    def suggest(self, utterances: Sequence[Utterance], *, exclude_keys: Iterable[str] = (), limit: int = 3,
                exclude_texts: Iterable[str] = ()) -> EngineOutput:
        exclude_keys, exclude_texts = set(exclude_keys), set(exclude_texts)
        if not shared_local_engine().detect_complaints(utterances):
            # Small talk or silence: no call, no cost (the local detector is the gate for both engines).
            return EngineOutput([], self.source, [])
        done = sorted(exclude_texts)
        prompt = (
            "Transcrição recente:\n" + transcript_window(utterances)
            + "\n\nPerguntas já feitas, já mostradas ou dispensadas (não repita):\n"
            + ("\n".join(f"- {t}" for t in done) or "- nenhuma")
            + f"\n\nProponha no máximo {limit} perguntas."
        )
        try:
            parsed, usage = self.endpoint.complete_json(SUGGEST_SYSTEM, prompt, SUGGESTIONS_SCHEMA)
        except LLMFailure as failure:
            log.warning("LLM suggestions failed (%s); using the local engine", failure.reason)
            fallback = self.local.suggest(utterances, exclude_keys=exclude_keys, limit=limit,
                                          exclude_texts=exclude_texts,
                                          source=f"local (llm fallback: {failure.reason})")
            fallback.usage.insert(0, failure.usage)
            return fallback
        candidates = []
        for item in parsed["suggestions"]:
            question = item["question"].strip()
            key = llm_key(question)
            if key in exclude_keys or question in exclude_texts:
                continue
            candidates.append(SuggestionCandidate(
                key=key, text=question, text_en="", reason=item["reason"].strip(), reason_en="",
                topic=item["topic"], complaint="", red_flag=bool(item["red_flag"]),
            ))
        candidates.sort(key=lambda c: not c.red_flag)  # red flags first, the model's order otherwise
        return EngineOutput(candidates[:limit], self.source, [usage])

    def note_draft(self, utterances: Sequence[Utterance]) -> EngineOutput:
        prompt = "Transcrição da consulta:\n" + "\n".join(
            f"{'Médico' if u.speaker == 'doctor' else 'Paciente' if u.speaker == 'patient' else 'Fala'}: {u.text}"
            for u in utterances if u.text.strip()
        )
        try:
            parsed, usage = self.endpoint.complete_json(NOTE_SYSTEM, prompt, NOTE_SCHEMA)
        except LLMFailure as failure:
            log.warning("LLM note draft failed (%s); using the extractive draft", failure.reason)
            fallback = self.local.note_draft(utterances, source=f"local (llm fallback: {failure.reason})")
            fallback.usage.insert(0, failure.usage)
            return fallback
        return EngineOutput({k: parsed[k].strip() for k in NOTE_SCHEMA["required"]}, self.source, [usage])
