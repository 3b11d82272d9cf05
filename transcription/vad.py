"""Per-speaker streaming segmenter: Silero VAD (the ONNX model faster-whisper ships) cuts a stream of
16 kHz mono PCM into utterances.

One `Segmenter` per speaker stream, fed with whatever frame sizes the client sends. It keeps the
LSTM state between windows, so the result does not depend on how the audio was framed. The ONNX
session is loaded once per process and shared (onnxruntime sessions are thread-safe); the state
lives in the segmenter.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = 512  # samples per VAD decision (32 ms), fixed by the model
CONTEXT = 64  # samples of the previous window the model sees before each window


@dataclass(frozen=True)
class VadConfig:
    threshold: float = 0.5
    min_utterance_s: float = 0.3
    max_utterance_s: float = 15.0
    min_silence_ms: int = 400
    padding_ms: int = 200

    @classmethod
    def from_settings(cls) -> VadConfig:
        from django.conf import settings

        return cls(
            threshold=settings.VAD_THRESHOLD,
            min_utterance_s=settings.VAD_MIN_UTTERANCE_S,
            max_utterance_s=settings.VAD_MAX_UTTERANCE_S,
            min_silence_ms=settings.VAD_MIN_SILENCE_MS,
            padding_ms=settings.VAD_PADDING_MS,
        )


@dataclass
class SpeechSegment:
    """A cut utterance: samples [start, end) of the stream, and its int16 PCM."""

    start_sample: int
    end_sample: int
    pcm: np.ndarray = field(repr=False)

    @property
    def start_ms(self) -> int:
        return self.start_sample * 1000 // SAMPLE_RATE

    @property
    def end_ms(self) -> int:
        return self.end_sample * 1000 // SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return (self.end_sample - self.start_sample) / SAMPLE_RATE


def silero_model_path() -> Path:
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


_session_lock = threading.Lock()


@lru_cache(maxsize=1)
def _session():
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    # Many streams share two cores with Whisper: one thread per call keeps the VAD cheap and fair.
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(str(silero_model_path()), providers=["CPUExecutionProvider"], sess_options=opts)


def vad_session():
    with _session_lock:
        return _session()


class Segmenter:
    """Feed int16 PCM; get back finished utterances. `current()` is the utterance in progress."""

    def __init__(self, config: VadConfig | None = None):
        self.config = config or VadConfig()
        c = self.config
        self._session = vad_session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.int16)  # < WINDOW samples not yet judged
        self._pos = 0  # stream sample index of the next window
        self._pad = int(c.padding_ms * SAMPLE_RATE / 1000)
        self._min_silence = int(c.min_silence_ms * SAMPLE_RATE / 1000)
        self._min_len = int(c.min_utterance_s * SAMPLE_RATE)
        self._max_len = int(c.max_utterance_s * SAMPLE_RATE)
        self._neg_threshold = max(c.threshold - 0.15, 0.01)
        # Audio kept before speech starts, for the leading padding.
        self._history = np.zeros(0, dtype=np.int16)
        self._history_start = 0
        # The utterance in progress.
        self._triggered = False
        self._utt: list[np.ndarray] = []
        self._utt_start = 0
        self._utt_len = 0
        self._speech_end: int | None = None  # sample just after the last speech window (None: still speaking)
        self._last_gap: int | None = None  # a low-probability window inside the utterance: a cut point
        self.samples_seen = 0

    # -- public API ------------------------------------------------------------------------------
    @property
    def in_speech(self) -> bool:
        return self._triggered

    def current(self) -> SpeechSegment | None:
        """The utterance in progress so far (for partial transcripts), or None."""
        if not self._triggered or not self._utt:
            return None
        pcm = np.concatenate(self._utt)
        return SpeechSegment(self._utt_start, self._utt_start + len(pcm), pcm)

    def feed(self, pcm: np.ndarray | bytes) -> list[SpeechSegment]:
        if isinstance(pcm, (bytes, bytearray, memoryview)):
            pcm = np.frombuffer(pcm, dtype="<i2")
        self.samples_seen += len(pcm)
        data = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        n_windows = len(data) // WINDOW
        self._pending = data[n_windows * WINDOW :].copy()
        if n_windows == 0:
            return []
        windows = data[: n_windows * WINDOW].reshape(n_windows, WINDOW)
        probs = self._probabilities(windows)
        out: list[SpeechSegment] = []
        for window, prob in zip(windows, probs, strict=True):
            seg = self._step(window, float(prob))
            if seg is not None:
                out.append(seg)
        return out

    def flush(self) -> list[SpeechSegment]:
        """End of stream (or pause): the utterance in progress, if long enough, is finished now."""
        out: list[SpeechSegment] = []
        if len(self._pending):
            # Judge the tail too: pad it to a full window with silence.
            tail = np.concatenate([self._pending, np.zeros(WINDOW - len(self._pending), dtype=np.int16)])
            real = len(self._pending)
            self._pending = np.zeros(0, dtype=np.int16)
            prob = float(self._probabilities(tail[None, :])[0])
            seg = self._step(tail[:real], prob, length=real)
            if seg is not None:
                out.append(seg)
        if self._triggered:
            end = self._speech_end if self._speech_end is not None else self._utt_start + self._utt_len
            seg = self._finish(min(end + self._pad, self._utt_start + self._utt_len))
            if seg is not None:
                out.append(seg)
        self._reset_state()
        return out

    # -- internals -------------------------------------------------------------------------------
    def _reset_state(self):
        self._h[:] = 0
        self._c[:] = 0
        self._context[:] = 0

    def _probabilities(self, windows: np.ndarray) -> np.ndarray:
        x = windows.astype(np.float32) / 32768.0
        ctx = np.concatenate([self._context[None, :], x[:-1, -CONTEXT:]], axis=0)
        batch = np.concatenate([ctx, x], axis=1)
        probs, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = x[-1, -CONTEXT:].copy()
        return probs.reshape(-1)

    def _step(self, window: np.ndarray, prob: float, length: int = WINDOW) -> SpeechSegment | None:
        start = self._pos
        self._pos += length
        window = window[:length]
        if not self._triggered:
            if prob >= self.config.threshold:
                self._triggered = True
                lead = self._history[-self._pad :] if self._pad else self._history[:0]
                self._utt = [lead.copy(), window.copy()]
                self._utt_start = start - len(lead)
                self._utt_len = len(lead) + length
                self._speech_end = None
                self._last_gap = None
                self._history = np.zeros(0, dtype=np.int16)
            else:
                self._history = np.concatenate([self._history, window])[-max(self._pad, 1) :]
            return None

        self._utt.append(window.copy())
        self._utt_len += length
        end_of_window = start + length
        if prob >= self.config.threshold:
            self._speech_end = None
        elif prob < self._neg_threshold:
            if self._speech_end is None:
                self._speech_end = start
            self._last_gap = start
            if end_of_window - self._speech_end >= self._min_silence:
                return self._finish(self._speech_end + self._pad)
        if self._utt_len >= self._max_len:
            return self._split_at_max()
        return None

    def _finish(self, cut: int) -> SpeechSegment | None:
        """End the utterance at stream sample `cut`; audio after it becomes history."""
        pcm = np.concatenate(self._utt) if self._utt else np.zeros(0, dtype=np.int16)
        keep = max(0, min(cut - self._utt_start, len(pcm)))
        seg = SpeechSegment(self._utt_start, self._utt_start + keep, pcm[:keep])
        rest = pcm[keep:]
        self._triggered = False
        self._utt, self._utt_len = [], 0
        self._speech_end = self._last_gap = None
        self._history = rest[-self._pad :] if self._pad else rest[:0]
        speech_len = keep - min(self._pad, keep)  # without the trailing padding
        if speech_len < self._min_len:
            return None
        return seg

    def _split_at_max(self) -> SpeechSegment | None:
        """Too long: cut at the last pause in the second half if there is one, else hard at max, and
        keep going with the rest as the start of the next utterance (the speaker has not stopped)."""
        pcm = np.concatenate(self._utt)
        cut_rel = self._max_len
        if self._last_gap is not None and self._last_gap - self._utt_start > self._max_len // 2:
            cut_rel = self._last_gap - self._utt_start
        seg = SpeechSegment(self._utt_start, self._utt_start + cut_rel, pcm[:cut_rel])
        rest = pcm[cut_rel:]
        self._utt = [rest]
        self._utt_start += cut_rel
        self._utt_len = len(rest)
        self._last_gap = None
        return seg
