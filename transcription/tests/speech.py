"""Test speech made at test time: RHVoice's Brazilian voice (Letícia-F123) for Portuguese, espeak-ng
for English, both resampled with sox to 16 kHz mono s16le. No recorded audio is kept in the repo."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import unicodedata
import wave
from pathlib import Path

import numpy as np

PT_VOICE = "Letícia-F123"
SAMPLE_RATE = 16_000

# Portuguese clinical sentences and the words that must be recognised in each (accent-insensitive;
# digits accepted for numbers).
PT_SENTENCES = {
    "febre": ("Tenho febre e tosse seca desde segunda-feira.", ["febre", "tosse", "seca", "segunda"]),
    "pressao": ("A pressão arterial está alta e sinto dor de cabeça.", ["pressao", "arterial", "alta", "dor", "cabeca"]),
    "dipirona": ("Estou tomando dipirona a cada oito horas.", ["tomando", "oito", "horas"]),
    "barriga": ("A dor na barriga piora depois das refeições.", ["barriga", "piora", "refeicoes"]),
}
NUMBER_WORDS = {"oito": "8", "tres": "3", "dois": "2"}


def require_tools() -> None:
    missing = [t for t in ("RHVoice-test", "espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(
            f"Test speech needs {', '.join(missing)}: apt-get install rhvoice rhvoice-brazilian-portuguese "
            "espeak-ng sox (RHVoice is in Debian's non-free component; `make test` enables it)."
        )


def _resample(src: Path, dst: Path) -> Path:
    # -D: no dither. sox dithers with a random seed by default, so the same sentence would come out
    # as different samples on every run and recognition results would drift between runs.
    subprocess.run(["sox", "-D", str(src), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(dst)],
                   check=True, capture_output=True)
    return dst


def _name(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def portuguese_wav(text: str, directory: Path) -> Path:
    dst = directory / (_name("pt", text) + ".wav")
    if not dst.exists():
        raw = directory / (_name("pt", text) + ".raw.wav")
        subprocess.run(["RHVoice-test", "-p", PT_VOICE, "-o", str(raw)], input=text.encode(), check=True,
                       capture_output=True)
        _resample(raw, dst)
    return dst


def english_wav(text: str, directory: Path) -> Path:
    dst = directory / (_name("en", text) + ".wav")
    if not dst.exists():
        raw = directory / (_name("en", text) + ".raw.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True, capture_output=True)
        _resample(raw, dst)
    return dst


def read_pcm(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def write_pcm(path: Path, pcm: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def trim_silence(pcm: np.ndarray, threshold: int = 300) -> np.ndarray:
    loud = np.flatnonzero(np.abs(pcm) > threshold)
    return pcm[loud[0] : loud[-1] + 1] if len(loud) else pcm[:0]


def normalise_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return ["".join(c for c in w if c.isalnum()) for w in plain.replace("-", " ").split()]


def recognised(expected: list[str], text: str) -> list[str]:
    """The expected key words found in `text` (word-level, accent-insensitive, digits for numbers)."""
    words = set(normalise_words(text))
    return [w for w in expected if w in words or NUMBER_WORDS.get(w) in words]
