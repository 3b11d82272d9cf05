"""The audio WebSocket: auth matrix, consent gate, malformed frames, stop/flush, speakers kept apart,
two consultations at once — with audio streamed at real-time pace through channels' communicator."""
import asyncio
import json
from datetime import timedelta

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from audit.models import AuditEvent
from medcall.routing import websocket_urlpatterns
from transcription.models import TranscriptSegment, Utterance

from . import speech

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

app = URLRouter(websocket_urlpatterns)
FRAME_MS = 100


async def _audio_socket(user, consultation_id, speaker="doctor"):
    comm = WebsocketCommunicator(app, f"/ws/consultations/{consultation_id}/audio/?speaker={speaker}")
    comm.scope["user"] = user
    connected, code = await comm.connect(timeout=10)
    return comm, connected, code


async def _ready_socket(user, consultation_id, speaker="doctor"):
    comm, connected, code = await _audio_socket(user, consultation_id, speaker)
    assert connected, code
    ready = await comm.receive_json_from(timeout=10)
    assert ready == {"type": "ready", "speaker": speaker, "sample_rate": 16000, "max_frame_bytes": 65536}
    return comm


async def _transcript_socket(user, consultation_id):
    comm = WebsocketCommunicator(app, f"/ws/consultations/{consultation_id}/transcript/")
    comm.scope["user"] = user
    connected, _ = await comm.connect(timeout=10)
    assert connected
    return comm


async def _stream(comm, pcm: np.ndarray, frame_ms: int = FRAME_MS):
    """Send PCM in frames at real-time pace (as a microphone would)."""
    step = 16 * frame_ms
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, i in enumerate(range(0, len(pcm), step)):
        await comm.send_to(bytes_data=pcm[i : i + step].astype("<i2").tobytes())
        await asyncio.sleep(max(0.0, start + (n + 1) * frame_ms / 1000 - loop.time()))


async def _finals(comm, count: int, timeout: float = 150):
    """Collect `count` transcript.final events (and whatever else came before them)."""
    finals, others = [], []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(finals) < count:
        event = await comm.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        (finals if event["type"] == "transcript.final" else others).append(event)
    return finals, others


async def _closed_with(comm, code):
    message = await comm.receive_output(timeout=10)
    assert message == {"type": "websocket.close", "code": code}


# --- Auth matrix and gates ---------------------------------------------------------------------------
async def test_it_refuses_anonymous_users_before_accepting(consented):
    comm, connected, code = await _audio_socket(AnonymousUser(), consented.pk)
    assert (connected, code) == (False, 4401)


@pytest.mark.parametrize("who", ["bob", "charlie"])
async def test_it_refuses_anyone_but_the_consultations_doctor(request, consented, who):
    user = (await sync_to_async(request.getfixturevalue)(who)).user
    comm, connected, code = await _audio_socket(user, consented.pk)
    assert (connected, code) == (False, 4403)


async def test_it_refuses_an_unknown_consultation(alice):
    comm, connected, code = await _audio_socket(alice.user, 999_999)
    assert (connected, code) == (False, 4403)


async def test_it_refuses_a_consultation_without_transcription_consent(consultation, alice):
    from consultations.models import ConsentRecord

    await ConsentRecord.objects.acreate(consultation=consultation, teleconsultation=True, transcription=False,
                                        text_version="t", channel="patient_link")
    comm, connected, _ = await _audio_socket(alice.user, consultation.pk)
    assert connected
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == "no_consent"
    assert "consent" in error["message"]
    await _closed_with(comm, 4412)


async def test_it_refuses_a_bad_speaker_value(consented, alice):
    comm, connected, _ = await _audio_socket(alice.user, consented.pk, speaker="nurse")
    error = await comm.receive_json_from()
    assert error["code"] == "bad_speaker"
    await _closed_with(comm, 4400)


async def test_it_refuses_a_finished_consultation(consented, alice):
    from consultations.models import Consultation

    await Consultation.objects.filter(pk=consented.pk).aupdate(status=Consultation.Status.COMPLETED)
    comm, connected, _ = await _audio_socket(alice.user, consented.pk)
    assert (await comm.receive_json_from())["code"] == "consultation_closed"
    await _closed_with(comm, 4409)


# --- Malformed input -------------------------------------------------------------------------------
async def test_it_closes_on_an_odd_length_frame_without_affecting_another_consultation(
    consented, second_consented, alice, recordings_dir
):
    bad = await _ready_socket(alice.user, consented.pk)
    good = await _ready_socket(alice.user, second_consented.pk)
    await bad.send_to(bytes_data=b"\x01\x02\x03")
    assert (await bad.receive_json_from())["code"] == "odd_length"
    await _closed_with(bad, 4400)
    # The other consultation's stream is untouched.
    await good.send_to(bytes_data=speech.silence(0.1).tobytes())
    await good.send_to(text_data=json.dumps({"type": "ping"}))
    assert await good.receive_json_from() == {"type": "pong"}
    await good.disconnect()


async def test_it_closes_on_an_oversized_frame(consented, alice, recordings_dir):
    comm = await _ready_socket(alice.user, consented.pk)
    await comm.send_to(bytes_data=b"\0" * (64 * 1024 + 2))
    error = await comm.receive_json_from()
    assert error["code"] == "frame_too_large" and "65538" in error["message"]
    await _closed_with(comm, 1009)


async def test_it_reports_bad_control_messages_and_carries_on(consented, alice, recordings_dir):
    comm = await _ready_socket(alice.user, consented.pk)
    await comm.send_to(text_data="{not json")
    assert (await comm.receive_json_from())["code"] == "invalid_json"
    await comm.send_to(text_data=json.dumps({"type": "dance"}))
    assert (await comm.receive_json_from())["code"] == "unknown_type"
    await comm.send_to(text_data=json.dumps({"type": "speaker", "speaker": "nurse"}))
    assert (await comm.receive_json_from())["code"] == "bad_speaker"
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


# --- The pipeline ------------------------------------------------------------------------------------
async def test_it_flushes_on_stop_and_saves_the_segment(consented, alice, recordings_dir, whisper_engine, pt_speech):
    path, _text, words = pt_speech["febre"]
    pcm = np.concatenate([speech.silence(0.3), speech.read_pcm(path)])  # no trailing pause: only stop ends it
    events = await _transcript_socket(alice.user, consented.pk)
    audio = await _ready_socket(alice.user, consented.pk)
    await _stream(audio, pcm)
    await audio.send_to(text_data=json.dumps({"type": "stop"}))
    stopped = await audio.receive_json_from(timeout=10)
    frames = -(-len(pcm) // (16 * FRAME_MS))
    assert stopped == {"type": "stopped", "frames": frames, "samples": len(pcm), "utterances": 1}
    await _closed_with(audio, 1000)

    (final,), _ = await _finals(events, 1)
    assert final["speaker"] == "doctor" and len(speech.recognised(words, final["text"])) >= 3, final
    segment = await TranscriptSegment.objects.aget(pk=final["id"])
    assert segment.consultation_id == consented.pk and segment.text == final["text"]
    assert 0 <= segment.start_ms < 600 and segment.end_ms >= len(pcm) * 1000 // 16000 - 300
    assert not await Utterance.objects.filter(consultation=consented).aexists()
    assert not any(recordings_dir.rglob("*.wav"))
    actions = [a async for a in AuditEvent.objects.filter(target_id=str(consented.pk)).values_list("action", flat=True)]
    assert {"transcription.started", "transcription.stopped", "transcript.segment_saved"} <= set(actions)
    await events.disconnect()


async def test_it_keeps_doctor_and_patient_apart(consented, alice, recordings_dir, whisper_engine, pt_speech):
    doctor_pcm = np.concatenate([speech.silence(0.3), speech.read_pcm(pt_speech["dipirona"][0]), speech.silence(1)])
    patient_pcm = np.concatenate([speech.silence(0.5), speech.read_pcm(pt_speech["pressao"][0]), speech.silence(0.8)])
    events = await _transcript_socket(alice.user, consented.pk)
    doctor = await _ready_socket(alice.user, consented.pk, "doctor")
    patient = await _ready_socket(alice.user, consented.pk, "patient")
    await asyncio.gather(_stream(doctor, doctor_pcm), _stream(patient, patient_pcm))
    finals, _ = await _finals(events, 2)
    by_speaker = {f["speaker"]: f["text"] for f in finals}
    assert set(by_speaker) == {"doctor", "patient"}
    assert speech.recognised(["tomando", "oito", "horas"], by_speaker["doctor"]), by_speaker
    assert speech.recognised(["pressao", "arterial", "cabeca"], by_speaker["patient"]), by_speaker
    assert not speech.recognised(["pressao", "arterial", "cabeca"], by_speaker["doctor"])
    assert not speech.recognised(["tomando", "horas"], by_speaker["patient"])
    for comm in (doctor, patient, events):
        await comm.disconnect()


async def test_it_transcribes_two_consultations_at_once_without_cross_talk(
    consented, second_consented, alice, recordings_dir, whisper_engine, pt_speech
):
    pcm_a = np.concatenate([speech.silence(0.3), speech.read_pcm(pt_speech["barriga"][0]), speech.silence(1)])
    pcm_b = np.concatenate([speech.silence(0.3), speech.read_pcm(pt_speech["febre"][0]), speech.silence(1)])
    events_a = await _transcript_socket(alice.user, consented.pk)
    events_b = await _transcript_socket(alice.user, second_consented.pk)
    audio_a = await _ready_socket(alice.user, consented.pk)
    audio_b = await _ready_socket(alice.user, second_consented.pk)
    await asyncio.gather(_stream(audio_a, pcm_a), _stream(audio_b, pcm_b))
    (final_a,), _ = await _finals(events_a, 1)
    (final_b,), _ = await _finals(events_b, 1)
    assert final_a["consultation_id"] == consented.pk and final_b["consultation_id"] == second_consented.pk
    assert speech.recognised(["barriga", "refeicoes"], final_a["text"]), final_a
    assert speech.recognised(["febre", "tosse"], final_b["text"]), final_b
    # Nothing more arrives on either side (no echo of the other consultation).
    await asyncio.sleep(1)
    for events, mine in ((events_a, consented.pk), (events_b, second_consented.pk)):
        while not await events.receive_nothing(timeout=0.5):
            extra = await events.receive_json_from()
            assert extra["consultation_id"] == mine and extra["type"] != "transcript.final", extra
    assert await TranscriptSegment.objects.filter(consultation=consented).acount() == 1
    assert await TranscriptSegment.objects.filter(consultation=second_consented).acount() == 1
    for comm in (audio_a, audio_b, events_a, events_b):
        await comm.disconnect()


async def test_it_sends_partials_for_a_long_utterance_then_the_final(
    consented, alice, recordings_dir, whisper_engine, pt_speech
):
    parts = [speech.trim_silence(speech.read_pcm(pt_speech[n][0])) for n in ("febre", "pressao")]
    pcm = np.concatenate([speech.silence(0.3), parts[0], speech.silence(0.15), parts[1], speech.silence(1)])
    events = await _transcript_socket(alice.user, consented.pk)
    audio = await _ready_socket(alice.user, consented.pk)
    await _stream(audio, pcm)
    finals, others = await _finals(events, 1)
    partials = [e for e in others if e["type"] == "transcript.partial"]
    assert partials, others
    assert all(p["utterance"] == finals[0]["utterance"] and not p["pending"] and p["text"] for p in partials)
    assert speech.recognised(["febre", "pressao", "cabeca"], finals[0]["text"]), finals[0]
    await audio.disconnect()
    await events.disconnect()


async def test_it_pauses_and_resumes(consented, alice, recordings_dir):
    comm = await _ready_socket(alice.user, consented.pk)
    await comm.send_to(text_data=json.dumps({"type": "pause"}))
    assert await comm.receive_json_from() == {"type": "state", "paused": True, "speaker": "doctor"}
    await comm.send_to(bytes_data=(np.ones(16000, dtype=np.int16) * 3000).tobytes())
    await comm.send_to(text_data=json.dumps({"type": "resume"}))
    assert await comm.receive_json_from() == {"type": "state", "paused": False, "speaker": "doctor"}
    await comm.send_to(text_data=json.dumps({"type": "stop"}))
    stopped = await comm.receive_json_from()
    assert stopped["frames"] == 1 and stopped["samples"] == 0  # paused audio was not transcribed
    assert not await Utterance.objects.aexists()


async def test_it_relabels_an_in_person_stream_with_the_speaker_toggle(
    consented, alice, recordings_dir, whisper_engine, pt_speech
):
    events = await _transcript_socket(alice.user, consented.pk)
    comm = await _ready_socket(alice.user, consented.pk, "unknown")
    await comm.send_to(text_data=json.dumps({"type": "speaker", "speaker": "patient"}))
    assert await comm.receive_json_from() == {"type": "state", "paused": False, "speaker": "patient"}
    await _stream(comm, np.concatenate([speech.silence(0.3), speech.read_pcm(pt_speech["barriga"][0])]), 50)
    await comm.send_to(text_data=json.dumps({"type": "stop"}))
    (final,), _ = await _finals(events, 1)
    assert final["speaker"] == "patient"
    await events.disconnect()


async def test_it_shows_the_lag_indicator_when_the_transcriber_falls_behind(consented, alice, recordings_dir, settings):
    from transcription import services

    settings.TRANSCRIPTION_LAG_S = 1.0
    events = await _transcript_socket(alice.user, consented.pk)
    audio = await _ready_socket(alice.user, consented.pk)
    # An utterance waiting for a transcriber that has not picked it up (nothing dispatched it).
    utterance = await sync_to_async(services.utterance_enqueue)(
        consultation_id=consented.pk, speaker="doctor", start_ms=0, end_ms=500, pcm=speech.silence(0.5)
    )
    await Utterance.objects.filter(pk=utterance.pk).aupdate(created_at=timezone.now() - timedelta(seconds=5))
    lag = await events.receive_json_from(timeout=10)
    assert lag["type"] == "transcript.lag" and lag["lagging"] is True and lag["backlog_s"] >= 4
    assert (await audio.receive_json_from(timeout=5))["type"] == "transcript.lag"
    await Utterance.objects.filter(pk=utterance.pk).adelete()
    cleared = await events.receive_json_from(timeout=10)
    assert cleared["type"] == "transcript.lag" and cleared["lagging"] is False
    await audio.disconnect()
    await events.disconnect()


async def test_it_lets_only_the_clinics_doctors_watch_the_transcript(consented, bob, charlie):
    comm = await _transcript_socket(bob.user, consented.pk)  # a colleague may follow along
    await comm.disconnect()
    outsider = WebsocketCommunicator(app, f"/ws/consultations/{consented.pk}/transcript/")
    outsider.scope["user"] = charlie.user
    assert await outsider.connect() == (False, 4403)


async def test_it_resumes_utterances_left_pending_when_the_doctor_streams_again(consented, alice, recordings_dir,
                                                                               settings):
    from transcription import services

    from .doubles import OpenAISTTDouble

    # Left behind: one failed (engine was down), one queued by a server that has since restarted.
    failed = await sync_to_async(services.utterance_enqueue)(
        consultation_id=consented.pk, speaker="patient", start_ms=1000, end_ms=2000, pcm=speech.silence(0.5)
    )
    lost = await sync_to_async(services.utterance_enqueue)(
        consultation_id=consented.pk, speaker="doctor", start_ms=3000, end_ms=4000, pcm=speech.silence(0.5)
    )
    await Utterance.objects.filter(pk=failed.pk).aupdate(status=Utterance.Status.FAILED, attempts=1)
    await Utterance.objects.filter(pk=lost.pk).aupdate(updated_at=timezone.now() - timedelta(minutes=5))
    with OpenAISTTDouble(text="Melhorou.") as double:
        settings.TRANSCRIPTION_ENGINE = "openai"
        settings.OPENAI_STT_BASE_URL = double.base_url
        settings.OPENAI_STT_API_KEY = "sk-test"
        events = await _transcript_socket(alice.user, consented.pk)
        audio = await _ready_socket(alice.user, consented.pk)
        finals, _ = await _finals(events, 2, timeout=30)
    assert {f["utterance"] for f in finals} == {str(failed.key), str(lost.key)}
    assert {f["text"] for f in finals} == {"Melhorou."}
    assert not await Utterance.objects.filter(consultation=consented).aexists()
    await audio.disconnect()
    await events.disconnect()
