"""Live transcription benchmark: N concurrent speakers stream through the real WebSocket of a real
Daphne at real-time pace; prints per-utterance latency (end of speech → transcript.final) p50/p95,
real-time factor, CPU and frames lost, for N = 1, 2, 4, 8.

    .venv/bin/python bench/transcription.py                 # N = 1 2 4 8, base model, in-process pool
    .venv/bin/python bench/transcription.py --speakers 2 --utterances 4

Speakers come in pairs (doctor + patient of one consultation) that take turns, as in a consultation
(`--overlap`: both talk at once); N = 1 is a doctor alone. Speech is generated with RHVoice
(Letícia-F123): each speaker says `--utterances` sentences with a pause after each. Baseline in the same run: the engine's offline real-time factor on the same sentences in this
process (no server, no concurrency). Uses a throwaway SQLite database and RECORDINGS_DIR.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

WORK = Path(tempfile.mkdtemp(prefix="medcall-bench-stt-"))
DB_URL = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ["DATABASE_URL"] = DB_URL
os.environ["RECORDINGS_DIR"] = str(WORK / "recordings")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings")
os.environ.pop("REDIS_URL", None)  # embedded mode: in-process pool, in-memory channel layer

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import websockets  # noqa: E402

FRAME_MS = 40
PAUSE_S = 1.2


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def make_speech(directory: Path):
    from transcription.tests import speech

    speech.require_tools()
    # Trimmed, so "end of speech" is the last spoken sample, not the end of the TTS file.
    return [speech.trim_silence(speech.read_pcm(speech.portuguese_wav(text, directory)))
            for text, _ in speech.PT_SENTENCES.values()]


def setup_data(n_consultations: int):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from audit.services import AuditContext
    from consultations.models import ConsentRecord
    from consultations.services import consultation_create
    from patients.models import Clinic, Doctor
    from patients.services import patient_create

    call_command("migrate", verbosity=0)
    clinic = Clinic.objects.create(name="Bench")
    user = get_user_model().objects.create_user(username=f"bench{time.time_ns()}", password="x-bench-x-123")
    doctor = Doctor.objects.create(user=user, clinic=clinic, crm="1", crm_uf="SP")
    ctx = AuditContext.system("bench")
    consultations = []
    for i in range(n_consultations):
        patient = patient_create(ctx=ctx, clinic=clinic, full_name=f"Paciente {i}")
        c = consultation_create(ctx=ctx, doctor=doctor, patient=patient, scheduled_for=timezone.now() + timedelta(hours=1))
        ConsentRecord.objects.create(consultation=c, teleconsultation=True, transcription=True, text_version="bench",
                                     channel="patient_link")
        consultations.append(c.pk)
    client = Client()
    client.force_login(user)
    return consultations, client.cookies["sessionid"].value


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), dtype=np.int16)


async def speaker_run(ws_base, cookie, consultation_id, speaker, timeline, results):
    """Stream `timeline` ([(pcm, is_speech), ...]) at real-time pace; note when each speech item ends."""
    url = f"{ws_base}/ws/consultations/{consultation_id}/audio/?speaker={speaker}"
    headers = {"Cookie": f"sessionid={cookie}", "Origin": ws_base.replace("ws://", "http://")}
    step = 16 * FRAME_MS
    audio = np.concatenate([pcm for pcm, _ in timeline])
    async with websockets.connect(url, additional_headers=headers, max_size=2**20) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready", ready
        loop = asyncio.get_running_loop()
        start = loop.time()
        offset = 0
        for pcm, is_speech in timeline:
            offset += len(pcm)
            if is_speech:
                results["speech_ends"].append((speaker, start + offset / 16000))
        sent_frames, pos = 0, 0
        for i in range(0, len(audio), step):
            frame = audio[i : i + step]
            await ws.send(frame.astype("<i2").tobytes())
            sent_frames += 1
            pos += len(frame)
            await asyncio.sleep(max(0.0, start + pos / 16000 - loop.time()))
        await ws.send(json.dumps({"type": "stop"}))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "stopped":
                break
        results["frames_sent"] += sent_frames
        results["frames_received"] += msg["frames"]
        results["audio_s"] += pos / 16000


def timelines(speakers, scripts, overlap: bool):
    """Per speaker: speech followed by pauses. A doctor/patient pair takes turns (the patient answers
    after the doctor's sentence and a pause) unless `overlap`, where both talk at once."""
    if len(speakers) == 1 or overlap:
        return {s: [item for pcm in scripts[s] for item in ((pcm, True), (silence(PAUSE_S), False))] for s in speakers}
    d, p = scripts[speakers[0]], scripts[speakers[1]]
    doctor, patient = [], [(silence(len(d[0]) / 16000 + PAUSE_S), False)]
    for u in range(len(d)):
        doctor += [(d[u], True), (silence(PAUSE_S + len(p[u]) / 16000 + PAUSE_S), False)]
        nxt = len(d[u + 1]) / 16000 + PAUSE_S if u + 1 < len(d) else 0
        patient += [(p[u], True), (silence(PAUSE_S + nxt), False)]
    return {speakers[0]: doctor, speakers[1]: patient}


async def consultation_run(ws_base, cookie, consultation_id, speakers, scripts, results, overlap):
    url = f"{ws_base}/ws/consultations/{consultation_id}/transcript/"
    headers = {"Cookie": f"sessionid={cookie}", "Origin": ws_base.replace("ws://", "http://")}
    per = {s: {"speech_ends": [], "frames_sent": 0, "frames_received": 0, "audio_s": 0.0} for s in speakers}
    finals = {s: [] for s in speakers}
    expected = sum(len(scripts[s]) for s in speakers)
    async with websockets.connect(url, additional_headers=headers) as events:
        loop = asyncio.get_running_loop()

        async def listen():
            got = 0
            while got < expected:
                ev = json.loads(await events.recv())
                if ev["type"] == "transcript.final":
                    got += 1
                    if ev.get("id"):
                        finals[ev["speaker"]].append((loop.time(), ev["end_ms"], ev["text"]))
                    else:
                        results["empty"] += 1  # the engine heard no words in that utterance
                elif ev["type"] == "transcript.lag" and ev["lagging"]:
                    results["lag_events"] += 1

        listener = asyncio.create_task(listen())
        lines = timelines(speakers, scripts, overlap)
        await asyncio.gather(*(speaker_run(ws_base, cookie, consultation_id, s, lines[s], per[s]) for s in speakers))
        try:
            await asyncio.wait_for(listener, timeout=300)
        except TimeoutError:
            results["missing"] += expected - sum(len(v) for v in finals.values())
    for s in speakers:
        ends = [t for _, t in per[s]["speech_ends"]]
        for (t_final, _end_ms, _text), t_end in zip(sorted(finals[s]), ends, strict=False):
            results["latencies"].append(t_final - t_end)
        results["frames_sent"] += per[s]["frames_sent"]
        results["frames_received"] += per[s]["frames_received"]
        results["audio_s"] += per[s]["audio_s"]
        results["finals"] += len(finals[s])


async def run_level(n, ws_base, cookie, consultation_ids, sentences, utterances, server_pid, overlap=False):
    pairs = [("doctor",)] if n == 1 else [("doctor", "patient")] * (n // 2)
    results = {"latencies": [], "frames_sent": 0, "frames_received": 0, "audio_s": 0.0, "finals": 0, "missing": 0,
               "lag_events": 0, "empty": 0}
    tasks = []
    for i, speakers in enumerate(pairs):
        scripts = {}
        for j, s in enumerate(speakers):
            k = 2 * i + j
            scripts[s] = [sentences[(k + u) % len(sentences)] for u in range(utterances)]
        tasks.append(consultation_run(ws_base, cookie, consultation_ids[i], speakers, scripts, results, overlap))
    proc = psutil.Process(server_pid)
    cpu_before = proc.cpu_times()
    psutil.cpu_percent(None)
    wall0 = time.monotonic()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - wall0
    cpu_after = proc.cpu_times()
    server_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    results.update(wall_s=wall, server_cpu_s=server_cpu, system_cpu_pct=psutil.cpu_percent(None))
    return results


def offline_rtf(sentences):
    from transcription.engines import get_engine

    engine = get_engine()
    engine.load()
    engine.transcribe(sentences[0])  # warm-up
    t, audio = 0.0, 0.0
    for pcm in sentences:
        t0 = time.perf_counter()
        engine.transcribe(pcm)
        t += time.perf_counter() - t0
        audio += len(pcm) / 16000
    return t / audio


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--utterances", type=int, default=3, help="sentences per speaker")
    parser.add_argument("--overlap", action="store_true", help="doctor and patient talk at once (default: turns)")
    parser.add_argument("--no-partials", action="store_true", help="server sends no partial previews")
    args = parser.parse_args()

    from django.conf import settings

    from medcall.tests.live_daphne import LiveDaphne

    sentences = make_speech(WORK)
    from bench.machine import machine_line

    print(f"machine: {machine_line()}; load average {os.getloadavg()[0]:.2f} at start (other work shares the cores)")
    print(f"model: {settings.WHISPER_MODEL} ({settings.WHISPER_DEVICE}/{settings.WHISPER_COMPUTE_TYPE}), "
          f"language={settings.WHISPER_LANGUAGE}, workers={settings.TRANSCRIPTION_WORKERS}, frames {FRAME_MS} ms, "
          f"pairs {'talk at once' if args.overlap else 'take turns'}, partials {'off' if args.no_partials else 'on'}")
    base_rtf = offline_rtf(sentences)
    print(f"baseline (offline, this process, no server): real-time factor {base_rtf:.2f}")
    from transcription.engines import _engines

    _engines.clear()  # free the bench process's copy of the model before the server loads its own

    consultation_ids, cookie = setup_data(max(1, max(args.speakers) // 2))
    server = LiveDaphne(database_url=DB_URL, log_path=WORK / "daphne.log",
                        env={"RECORDINGS_DIR": str(WORK / "recordings"), "REDIS_URL": "",
                             **({"TRANSCRIPTION_PARTIAL_INTERVAL_S": "0"} if args.no_partials else {})})
    base = server.start()
    ws_base = base.replace("http://", "ws://")
    rows = []
    try:
        # Warm the server: the model loads on its first utterance.
        asyncio.run(run_level(1, ws_base, cookie, consultation_ids, sentences[:1], 1, server.process.pid))
        for n in args.speakers:
            r = asyncio.run(run_level(n, ws_base, cookie, consultation_ids, sentences, args.utterances,
                                      server.process.pid, overlap=args.overlap))
            lat = r["latencies"]
            rows.append({
                "N": n, "utterances": len(lat), "p50_s": percentile(lat, 50), "p95_s": percentile(lat, 95),
                "max_s": max(lat) if lat else float("nan"),
                "cpu_per_audio_s": r["server_cpu_s"] / max(r["audio_s"], 1e-9),
                "server_cpu_pct": 100 * r["server_cpu_s"] / r["wall_s"], "system_cpu_pct": r["system_cpu_pct"],
                "frames_lost": r["frames_sent"] - r["frames_received"], "missing_finals": r["missing"], "empty_finals": r["empty"],
                "lag_events": r["lag_events"], "audio_s": r["audio_s"],
            })
            row = rows[-1]
            print(f"N={n}: {row['utterances']} utterances, latency p50 {row['p50_s']:.2f} s, p95 {row['p95_s']:.2f} s, "
                  f"max {row['max_s']:.2f} s, CPU-s/audio-s {row['cpu_per_audio_s']:.2f}, server CPU {row['server_cpu_pct']:.0f}% "
                  f"(machine {row['system_cpu_pct']:.0f}%), frames lost {row['frames_lost']}, "
                  f"missing finals {row['missing_finals']}, empty finals {row['empty_finals']}, lag events {row['lag_events']}", flush=True)
    finally:
        server.stop()
    print()
    print("| N speakers | utterances | p50 latency | p95 latency | server CPU-s per audio-s | server CPU | frames lost |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        flag = " (p95 > 3 s)" if row["p95_s"] > 3 else ""
        print(f"| {row['N']} | {row['utterances']} | {row['p50_s']:.2f} s | {row['p95_s']:.2f} s{flag} | "
              f"{row['cpu_per_audio_s']:.2f} | {row['server_cpu_pct']:.0f}% | {row['frames_lost']} |")
    out = BASE_DIR / "var" / "bench" / "transcription.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"baseline_rtf": base_rtf, "rows": rows}, indent=2))
    print(f"\nfigures saved in {out}; baseline: offline real-time factor {base_rtf:.2f} (transcription seconds per "
          f"audio second, one utterance at a time); load average now {os.getloadavg()[0]:.2f}")
    if any(r["frames_lost"] for r in rows):
        sys.exit("frames were lost")


if __name__ == "__main__":
    main()
