"""Engines: local faster-whisper on generated Portuguese/English speech, and the OpenAI-compatible
client against a loopback double."""
import pytest

from transcription.engines import TranscriptionError, get_engine
from transcription.engines.faster_whisper import FasterWhisperEngine
from transcription.engines.openai import OpenAIEngine

from . import speech
from .doubles import OpenAISTTDouble


def test_it_recognises_key_clinical_words_in_portuguese(whisper_engine, pt_speech):
    found_total, expected_total, report = 0, 0, []
    for name, (path, _text, words) in pt_speech.items():
        result = whisper_engine.transcribe(speech.read_pcm(path))
        found = speech.recognised(words, result.text)
        report.append(f"{name}: {result.text!r} → {found}/{words}")
        assert result.language == "pt"
        assert result.engine == "faster_whisper"
        assert result.avg_logprob is not None and result.avg_logprob < 0
        # Each sentence: most of its clinical words.
        assert len(found) >= len(words) * 0.6, "\n".join(report)
        found_total += len(found)
        expected_total += len(words)
    assert found_total / expected_total >= 0.8, "\n".join(report)


def test_it_gives_the_same_words_with_the_short_window_as_with_30_s(whisper_engine, whisper_models, pt_speech):
    """The 10/20 s encoder window (the default) must not change what is recognised."""
    standard = FasterWhisperEngine(model=str(whisper_models / "whisper-base"), language="pt", cpu_threads=2,
                                   short_window=False)
    standard._model = whisper_engine.load()  # same loaded model, other decoding path
    assert whisper_engine.short_window is True
    for name, (path, _text, words) in pt_speech.items():
        pcm = speech.read_pcm(path)
        short_words = speech.recognised(words, whisper_engine.transcribe(pcm).text)
        full_words = speech.recognised(words, standard.transcribe(pcm).text)
        assert len(short_words) >= len(full_words) - 1, (name, short_words, full_words)


ENGLISH_SENTENCES = {
    "I have had a cough and a fever for two weeks.": ["cough", "fever", "weeks"],
    "My chest hurts when I breathe and I feel short of breath.": ["chest", "hurts", "breathe"],
    "The headache started three days ago.": ["headache", "started", "days"],
}


def test_it_recognises_english_with_tiny_en(whisper_models, speech_dir):
    # Several sentences, judged together: tiny.en on synthetic speech hears one word of a sentence
    # differently from one CPU to another ("cough" as "cuff"), never most of them.
    engine = FasterWhisperEngine(model=str(whisper_models / "whisper-tiny.en"), language="en", cpu_threads=2)
    found_total, expected_total, report = 0, 0, []
    for text, words in ENGLISH_SENTENCES.items():
        result = engine.transcribe(speech.read_pcm(speech.english_wav(text, speech_dir)))
        found = speech.recognised(words, result.text)
        report.append(f"{result.text!r} → {found}/{words}")
        assert result.language == "en"
        assert found, "\n".join(report)
        found_total += len(found)
        expected_total += len(words)
    assert found_total / expected_total >= 0.7, "\n".join(report)


def test_it_returns_little_or_no_text_for_silence(whisper_engine):
    # The VAD never sends pure silence; if something does, Whisper must not invent a sentence.
    assert len(whisper_engine.transcribe(speech.silence(1.0)).text) < 20


def test_it_explains_a_missing_model(tmp_path):
    engine = FasterWhisperEngine(model=str(tmp_path / "nope"), language="pt", device="cpu")
    with pytest.raises(TranscriptionError, match="installwhispermodels"):
        engine.transcribe(speech.silence(0.5))


def test_it_loads_the_local_model_once_per_process(whisper_engine):
    assert get_engine("faster_whisper") is whisper_engine
    assert whisper_engine.load() is whisper_engine.load()


def _openai(base_url, **kw):
    return OpenAIEngine(base_url=base_url, api_key=kw.pop("api_key", "sk-test"), model="whisper-1", language="pt",
                        timeout=5, backoff=0.01, **kw)


def test_it_sends_audio_to_an_openai_compatible_endpoint():
    with OpenAISTTDouble(text="Tenho febre há dois dias.") as double:
        result = _openai(double.base_url).transcribe(speech.silence(0.5))
    assert result.text == "Tenho febre há dois dias."
    assert result.language == "pt" and result.engine == "openai" and result.avg_logprob == -0.25
    (request,) = double.requests
    assert request["path"] == "/v1/audio/transcriptions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert b'name="language"\r\n\r\npt' in request["body"]
    assert b'name="response_format"\r\n\r\nverbose_json' in request["body"]


def test_it_uses_the_azure_header_and_api_version():
    with OpenAISTTDouble() as double:
        base = double.base_url.replace("/v1", "/openai/deployments/stt")
        result = _openai(base, api_key="az-key", api_version="2024-06-01").transcribe(speech.silence(0.5))
    assert result.text == "Tenho febre."
    (request,) = double.requests
    assert request["path"] == "/openai/deployments/stt/audio/transcriptions"
    assert request["query"] == {"api-version": ["2024-06-01"]}
    assert "Authorization" not in request["headers"]


def test_it_retries_temporary_failures():
    with OpenAISTTDouble(statuses=[503, 429]) as double:
        result = _openai(double.base_url, retries=2).transcribe(speech.silence(0.5))
    assert result.text == "Tenho febre."
    assert len(double.requests) == 3


def test_it_gives_up_after_the_configured_retries():
    with OpenAISTTDouble(statuses=[503, 503, 503]) as double:
        with pytest.raises(TranscriptionError, match="did not answer after 2 attempts"):
            _openai(double.base_url, retries=1).transcribe(speech.silence(0.5))
    assert len(double.requests) == 2


def test_it_does_not_retry_a_rejected_key():
    with OpenAISTTDouble() as double:
        with pytest.raises(TranscriptionError, match="OPENAI_STT_API_KEY"):
            _openai(double.base_url, api_key="wrong", retries=3).transcribe(speech.silence(0.5))
    assert len(double.requests) == 1


def test_it_times_out_a_silent_endpoint():
    with OpenAISTTDouble(delay=1.0) as double:
        engine = OpenAIEngine(base_url=double.base_url, api_key="sk-test", model="m", language="pt", timeout=0.2,
                              retries=0)
        with pytest.raises(TranscriptionError, match="ReadTimeout"):
            engine.transcribe(speech.silence(0.2))


def test_it_picks_the_engine_from_settings(settings):
    settings.TRANSCRIPTION_ENGINE = "openai"
    settings.OPENAI_STT_BASE_URL = "http://127.0.0.1:9/v1"
    assert isinstance(get_engine(), OpenAIEngine)
    assert get_engine().base_url == "http://127.0.0.1:9/v1"
    settings.TRANSCRIPTION_ENGINE = "nonsense"
    with pytest.raises(TranscriptionError, match="Unknown TRANSCRIPTION_ENGINE"):
        get_engine()
