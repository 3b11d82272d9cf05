"""Call set-up benchmark: time from the patient's "Entrar" click to connected media, and signalling
message latency, on a real Daphne with headless Chromium (fake camera/mic), p2p mode over loopback.

    .venv/bin/python bench/call_setup.py [--runs 10]

Each run uses a consultation of its own (consent given, patient already admitted, so the figure is
the machine's set-up time, not a human's reaction time): the doctor's room page is open, the
patient's room page (iPhone 13 emulation) has finished its camera check, the patient clicks
"Entrar"; the clock stops when the first remote video frame has a size on each side.

Signalling: on one live call's sockets, `ping`→`pong` round trips (server only, the baseline) vs
doctor→server→patient→server→doctor relay round trips of `signal` messages (what SDP/ICE take).
Messages are paced under the per-socket rate limit. Prints the figures and the machine.
It uses its own SQLite file under var/bench/, never the app's database.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
BENCH_DIR = BASE_DIR / "var" / "bench"
DB_PATH = BENCH_DIR / "call_setup.sqlite3"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection", "--no-proxy-server",
    "--autoplay-policy=no-user-gesture-required",
]

# Resolves with performance.now() of the first remote frame with a size (or at once if it has one).
RUN_TIMEOUT_MS = 30_000
FIRST_FRAME_JS = """() => new Promise((resolve) => {
  const v = document.getElementById('remote-video');
  const done = () => { if (v.videoWidth > 0) { resolve(performance.now()); return true; } return false; };
  if (done()) return;
  v.addEventListener('resize', done); v.addEventListener('loadedmetadata', done);
  const t = setInterval(() => { if (done()) clearInterval(t); }, 5);
})"""


def _setup_django():
    os.environ["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings")
    import django

    django.setup()


def _prepare(runs: int) -> dict:
    """Fresh database, one doctor, `runs` consultations each with a link, consent and admission."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from audit.services import AuditContext
    from consultations.room_services import call_admit, consent_record
    from consultations.services import consultation_create, consultation_link_issue, patient_link_token
    from patients.models import Clinic, Doctor
    from patients.services import patient_create

    call_command("migrate", verbosity=0)
    ctx = AuditContext.system("bench")
    clinic = Clinic.objects.create(name="Clínica Bench")
    user = get_user_model().objects.create_user("bench-doctor", password="bench-s3nha-123", first_name="Ana", last_name="Bench")
    doctor = Doctor.objects.create(user=user, clinic=clinic, crm="1", crm_uf="SP")
    patient = patient_create(ctx=ctx, clinic=clinic, full_name="Paciente Bench")
    client = Client()
    client.force_login(user)
    calls = []
    for _ in range(runs + 1):  # +1: the call whose sockets measure signalling latency
        consultation = consultation_create(ctx=ctx, doctor=doctor, patient=patient, scheduled_for=timezone.now() + timedelta(minutes=5))
        link = consultation_link_issue(ctx=ctx, consultation=consultation)
        consent_record(ctx=ctx, consultation=consultation, teleconsultation=True, transcription=False, channel="patient_link")
        call_admit(ctx=AuditContext(user=user), consultation=consultation)
        calls.append({"id": consultation.pk, "token": patient_link_token(link)})
    return {"session": client.cookies["sessionid"].value, "calls": calls}


def _open_pair(playwright, chromium, base, session, call):
    doctor_ctx = chromium.new_context(viewport={"width": 1280, "height": 800})
    doctor_ctx.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    doctor = doctor_ctx.new_page()
    doctor.set_default_timeout(30_000)
    doctor.goto(f"{base}/consultations/{call['id']}/room/")
    phone_ctx = chromium.new_context(**playwright.devices["iPhone 13"])
    phone = phone_ctx.new_page()
    phone.set_default_timeout(30_000)
    phone.goto(f"{base}/p/{call['token']}/room/")
    phone.wait_for_selector("#join:not([disabled])")
    doctor.wait_for_function("() => document.getElementById('self-view').srcObject !== null")
    return doctor_ctx, doctor, phone_ctx, phone


def _one_run(playwright, chromium, base, session, call) -> dict:
    doctor_ctx, doctor, phone_ctx, phone = _open_pair(playwright, chromium, base, session, call)
    log: list[str] = []
    doctor.on("console", lambda m: log.append(f"doctor: {m.text}"))
    phone.on("console", lambda m: log.append(f"patient: {m.text}"))
    try:
        # Wall-clock anchors let the doctor's first frame be placed on the patient's timeline.
        # Kept on window (not returned): evaluate() would wait for a returned promise right away.
        arm = f"() => {{ window.__firstFrame = ({FIRST_FRAME_JS})(); }}"
        phone.evaluate(arm)
        doctor.evaluate(arm)
        phone.click("#join")
        try:
            phone.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0", timeout=RUN_TIMEOUT_MS)
            doctor.wait_for_function("() => document.getElementById('remote-video').videoWidth > 0", timeout=RUN_TIMEOUT_MS)
        except Exception:
            state = "() => [document.body.dataset.call, document.getElementById('room-problem').textContent]"
            raise RuntimeError(f"run did not connect: patient {phone.evaluate(state)}, doctor {doctor.evaluate(state)}; "
                               f"console: {log[-30:]}")
        phone_ms = phone.evaluate("() => window.__firstFrame.then((t) => t - window.__medcallMarks.joinClick)")
        doctor_at = doctor.evaluate("() => window.__firstFrame.then((t) => performance.timeOrigin + t)")
        click_at = phone.evaluate("() => performance.timeOrigin + window.__medcallMarks.joinClick")
        connected_ms = phone.evaluate(
            "() => new Promise((r) => { const t = setInterval(() => { if (window.__medcallMarks.connected) "
            "{ clearInterval(t); r(window.__medcallMarks.connected - window.__medcallMarks.joinClick); } }, 5); })"
        )
        return {"patient_media_ms": phone_ms, "doctor_media_ms": doctor_at - click_at, "pc_connected_ms": connected_ms}
    finally:
        phone_ctx.close()
        doctor_ctx.close()


SIGNAL_JS = """async ({path, token, n, gapMs}) => {
  const open = (url) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url); ws.onopen = () => resolve(ws); ws.onerror = reject; });
  const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
  const next = (ws, type) => new Promise((resolve) => {
    const h = (e) => { const m = JSON.parse(e.data); if (m.type === type) { ws.removeEventListener('message', h); resolve(m); } };
    ws.addEventListener('message', h); });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const doctor = await open(base); await next(doctor, 'welcome');
  const patient = await open(base + '?token=' + encodeURIComponent(token)); await next(patient, 'welcome');
  // The patient side echoes every relayed signal straight back.
  patient.addEventListener('message', (e) => { const m = JSON.parse(e.data);
    if (m.type === 'signal') patient.send(JSON.stringify({type: 'signal', from: 'bench-p', to: 'bench-d', candidate: m.candidate})); });
  const ping = [], relay = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now(); const pong = next(doctor, 'pong');
    doctor.send(JSON.stringify({type: 'ping', id: i})); await pong; ping.push(performance.now() - t);
    await sleep(gapMs);
    t = performance.now(); const echo = next(doctor, 'signal');
    doctor.send(JSON.stringify({type: 'signal', from: 'bench-d', to: 'bench-p', candidate: {candidate: 'bench', seq: i}}));
    await echo; relay.push(performance.now() - t);
    await sleep(gapMs);
  }
  doctor.close(); patient.close();
  return {ping, relay};
}"""


def _signalling(playwright, chromium, base, session, call, n=40) -> dict:
    ctx = chromium.new_context()
    ctx.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    page = ctx.new_page()
    page.goto(f"{base}/healthz")
    try:
        # Paced at ~17 msg/s per socket: under the consumer's rate limit (20/s after a burst of 60).
        return page.evaluate(SIGNAL_JS, {"path": f"/ws/consultations/{call['id']}/signal/", "token": call["token"], "n": n, "gapMs": 30})
    finally:
        ctx.close()


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return f"median {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   min {ordered[0]:7.1f}   max {ordered[-1]:7.1f}   (n={len(ordered)})"


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        chromium = "chromium ?"
    return f"{platform.node()} · {cpu} · {os.cpu_count()} cores · {platform.system()} {platform.release()} · Python {platform.python_version()} · {chromium}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(DB_PATH) + suffix).unlink(missing_ok=True)
    _setup_django()
    data = _prepare(args.runs)

    from playwright.sync_api import sync_playwright

    from medcall.tests.live_daphne import LiveDaphne

    server = LiveDaphne(database_url=f"sqlite:///{DB_PATH}", log_path=BENCH_DIR / "daphne.log")
    base = server.start()
    results = []
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            try:
                for i, call in enumerate(data["calls"][: args.runs], start=1):
                    started = time.perf_counter()
                    result = _one_run(playwright, chromium, base, data["session"], call)
                    results.append(result)
                    print(
                        f"run {i:2d}: patient media {result['patient_media_ms']:6.0f} ms · doctor media "
                        f"{result['doctor_media_ms']:6.0f} ms · RTCPeerConnection connected {result['pc_connected_ms']:6.0f} ms "
                        f"(run took {time.perf_counter() - started:.1f} s)",
                        flush=True,
                    )
                signalling = _signalling(playwright, chromium, base, data["session"], data["calls"][-1])
            finally:
                chromium.close()
    finally:
        server.stop()

    print()
    print("MedCall call set-up benchmark (p2p, loopback, headless Chromium, fake camera/mic)")
    print("machine:", _machine())
    print(f"channel layer: {'Redis' if os.environ.get('REDIS_URL') else 'in-memory'} · database: SQLite (bench file)")
    print("'Entrar' click → first remote frame, patient side:  ", _stats([r["patient_media_ms"] for r in results]))
    print("'Entrar' click → first remote frame, doctor side:   ", _stats([r["doctor_media_ms"] for r in results]))
    print("'Entrar' click → RTCPeerConnection 'connected':     ", _stats([r["pc_connected_ms"] for r in results]))
    print("signalling baseline: ping→pong round trip (server):  ", _stats(signalling["ping"]))
    print("signalling relay: doctor→patient→doctor round trip:  ", _stats(signalling["relay"]))
    print("  one-way relay ≈ half the relay round trip:          ", f"median {statistics.median(signalling['relay']) / 2:7.1f} ms")


if __name__ == "__main__":
    main()
