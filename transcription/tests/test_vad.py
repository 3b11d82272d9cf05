"""Segmenter: Silero VAD cuts utterances out of a stream, whatever the frame size."""
import numpy as np
import pytest

from transcription.vad import SAMPLE_RATE, Segmenter, VadConfig

from . import speech


def _stream(segmenter: Segmenter, pcm: np.ndarray, frame_ms: int = 40):
    step = SAMPLE_RATE * frame_ms // 1000
    out = []
    for i in range(0, len(pcm), step):
        out += segmenter.feed(pcm[i : i + step].tobytes())
    return out + segmenter.flush()


@pytest.fixture(scope="module")
def sentence(pt_speech):
    return speech.read_pcm(pt_speech["febre"][0])


def test_it_produces_nothing_from_silence():
    assert _stream(Segmenter(), speech.silence(10)) == []


def test_it_produces_nothing_from_low_noise():
    rng = np.random.default_rng(5)
    noise = (rng.standard_normal(SAMPLE_RATE * 5) * 30).astype(np.int16)
    assert _stream(Segmenter(), noise) == []


def test_it_cuts_two_utterances_separated_by_a_pause(sentence, pt_speech):
    other = speech.read_pcm(pt_speech["dipirona"][0])
    pcm = np.concatenate([speech.silence(1), sentence, speech.silence(1.5), other, speech.silence(1)])
    segments = _stream(Segmenter(VadConfig(min_silence_ms=400, padding_ms=200)), pcm)
    assert len(segments) == 2
    first, second = segments
    # Each utterance covers its sentence (±0.5 s) and they do not overlap.
    assert abs(first.duration_s - len(sentence) / SAMPLE_RATE) < 0.6
    assert abs(second.duration_s - len(other) / SAMPLE_RATE) < 0.6
    assert first.end_sample <= second.start_sample
    assert 0.5 < first.start_ms / 1000 < 1.2
    assert len(first.pcm) == first.end_sample - first.start_sample


def test_it_splits_a_40_second_monologue_at_the_maximum_length(pt_speech):
    # Sentences run together with 0.1 s gaps (shorter than the silence that ends an utterance).
    parts = [speech.trim_silence(speech.read_pcm(p)) for p, _, _ in pt_speech.values()]
    monologue = []
    while sum(len(p) for p in monologue) < 40 * SAMPLE_RATE:
        for part in parts:
            monologue += [part, speech.silence(0.1)]
    pcm = np.concatenate([speech.silence(0.5), *monologue, speech.silence(1)])
    segments = _stream(Segmenter(VadConfig(max_utterance_s=15.0, min_silence_ms=400)), pcm)
    assert len(segments) >= 3
    assert all(s.duration_s <= 15.0 + 1e-9 for s in segments)
    # Nothing of the speech is lost between the pieces.
    covered = sum(s.end_sample - s.start_sample for s in segments)
    assert covered >= 0.95 * sum(len(p) for p in monologue)


def test_it_gives_the_same_cuts_whatever_the_frame_size(sentence):
    pcm = np.concatenate([speech.silence(0.7), sentence, speech.silence(1), sentence, speech.silence(0.8)])
    cuts = {ms: [(s.start_sample, s.end_sample) for s in _stream(Segmenter(), pcm, frame_ms=ms)] for ms in (20, 100)}
    assert cuts[20] == cuts[100]
    assert len(cuts[20]) == 2


def test_it_ignores_utterances_shorter_than_the_minimum(sentence):
    blip = sentence[SAMPLE_RATE // 2 : SAMPLE_RATE // 2 + int(0.15 * SAMPLE_RATE)]
    pcm = np.concatenate([speech.silence(1), blip, speech.silence(1)])
    assert _stream(Segmenter(VadConfig(min_utterance_s=0.3, padding_ms=0)), pcm) == []


def test_it_flushes_the_utterance_in_progress(sentence):
    segmenter = Segmenter()
    assert segmenter.feed(np.concatenate([speech.silence(0.5), sentence[: SAMPLE_RATE * 2]]).tobytes()) == []
    assert segmenter.in_speech
    assert segmenter.current().duration_s > 1.0
    segments = segmenter.flush()
    assert len(segments) == 1 and segments[0].duration_s > 1.5
    assert not segmenter.in_speech
