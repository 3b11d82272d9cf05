"""Any OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, Azure OpenAI, self-hosted servers).

Azure: OPENAI_STT_BASE_URL=https://<resource>.openai.azure.com/openai/deployments/<deployment> and
OPENAI_STT_API_VERSION=<version>; the key then goes in the `api-key` header instead of a bearer token.
Audio leaves this machine only with this engine.
"""
from __future__ import annotations

import io
import logging
import time
import wave

import httpx
import numpy as np

from . import Engine, TranscriptionError, TranscriptionResult

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


def wav_bytes(pcm: np.ndarray | bytes, sample_rate: int = 16_000) -> bytes:
    if isinstance(pcm, np.ndarray):
        pcm = pcm.astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, *, base_url: str, api_key: str, model: str, language: str, api_version: str = "",
                 timeout: float = 30.0, retries: int = 2, backoff: float = 0.5):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.language = language
        self.api_version = api_version
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff

    @classmethod
    def from_settings(cls) -> OpenAIEngine:
        from django.conf import settings

        return cls(
            base_url=settings.OPENAI_STT_BASE_URL,
            api_key=settings.OPENAI_STT_API_KEY,
            model=settings.OPENAI_STT_MODEL,
            language=settings.WHISPER_LANGUAGE,
            api_version=settings.OPENAI_STT_API_VERSION,
            timeout=settings.OPENAI_STT_TIMEOUT_S,
            retries=settings.OPENAI_STT_RETRIES,
        )

    def _request_parts(self):
        url = f"{self.base_url}/audio/transcriptions"
        if self.api_version:
            return url, {"api-key": self.api_key}, {"api-version": self.api_version}
        return url, {"Authorization": f"Bearer {self.api_key}"}, {}

    def transcribe(self, pcm: np.ndarray | bytes) -> TranscriptionResult:
        url, headers, params = self._request_parts()
        files = {"file": ("utterance.wav", wav_bytes(pcm), "audio/wav")}
        data = {"model": self.model, "language": self.language, "response_format": "verbose_json", "temperature": "0"}
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                response = httpx.post(url, headers=headers, params=params, files=files, data=data, timeout=self.timeout)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__} talking to {self.base_url}"
                log.warning("STT endpoint attempt %d failed: %s", attempt + 1, last)
                continue
            if response.status_code in RETRYABLE_STATUS:
                last = f"HTTP {response.status_code} from {self.base_url}"
                log.warning("STT endpoint attempt %d failed: %s", attempt + 1, last)
                continue
            if response.status_code >= 400:
                raise TranscriptionError(
                    f"HTTP {response.status_code} from {self.base_url}: check OPENAI_STT_API_KEY, "
                    "OPENAI_STT_MODEL and OPENAI_STT_BASE_URL."
                )
            return self._parse(response)
        raise TranscriptionError(f"The STT endpoint did not answer after {self.retries + 1} attempts ({last}).")

    def _parse(self, response: httpx.Response) -> TranscriptionResult:
        try:
            body = response.json()
        except ValueError:
            # response_format=text servers answer with the plain text.
            return TranscriptionResult(response.text.strip(), self.language, None, self.name)
        segments = body.get("segments") or []
        logprobs = [s.get("avg_logprob") for s in segments if isinstance(s, dict) and s.get("avg_logprob") is not None]
        language = str(body.get("language") or self.language)
        if len(language) > 8:  # verbose_json says "portuguese"; we store codes
            language = self.language
        return TranscriptionResult(
            text=str(body.get("text") or "").strip(),
            language=language,
            avg_logprob=(sum(logprobs) / len(logprobs)) if logprobs else None,
            engine=self.name,
        )
