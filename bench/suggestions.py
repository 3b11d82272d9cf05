"""Benchmark of the anamnesis suggestion engine.

Relevance: precision of the local engine's top 3 against `transcription/suggestions/labelled/*.yaml`
(short Portuguese consultation excerpts labelled with the next questions a GP would accept), compared
in the same run with two simpler baselines. Engine time: wall time of one `suggest()` call, a pure
function of the transcript, with cold caches (first sight of every utterance) and warm caches (the live
case: each new segment adds one unseen utterance to a conversation already analysed).

Pipeline latency (assist/): time from a final transcript segment saved (its transaction committed)
to the `suggestions.updated` event sent, through the real hook (`suggestions_after_segment` → on
commit → `suggestions_refresh`: engine, Suggestion rows, AIUsage, audit → publish), on a throwaway
SQLite database, for consultations replayed segment by segment from the labelled set. Compared in
the same run with the engine's own share (the `suggest()` call alone on the same transcripts).

Run:  .venv/bin/python bench/suggestions.py [--repeat 200] [--verbose] [--latency-rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transcription.suggestions import LocalSuggestionEngine, Utterance  # noqa: E402

LABELLED_DIR = ROOT / "transcription" / "suggestions" / "labelled"
TOP_K = 3


@dataclass(frozen=True)
class Excerpt:
    id: str
    utterances: tuple[Utterance, ...]
    relevant: frozenset[str]
    patient_sex: str = ""


def load_excerpts() -> list[Excerpt]:
    excerpts = []
    for path in sorted(LABELLED_DIR.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")):
            excerpts.append(
                Excerpt(
                    id=raw["id"],
                    utterances=tuple(Utterance(speaker, text) for speaker, text in raw["utterances"]),
                    relevant=frozenset(raw["relevant"]),
                    patient_sex=raw.get("patient_sex", ""),
                )
            )
    return excerpts


def machine_info() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC} · {platform.system()} {platform.release()} · {cpu} · "
        f"{os.cpu_count()} cores · Python {platform.python_version()}"
    )


# -- engines under comparison ----------------------------------------------------------------------
def engine_local(engine: LocalSuggestionEngine, excerpt: Excerpt) -> list[str]:
    return [s.key for s in engine.suggest(excerpt.utterances, limit=TOP_K)]


def engine_local_with_sex(engine: LocalSuggestionEngine, excerpt: Excerpt) -> list[str]:
    """As the room will call it once the patient's sex is on record: sex-specific items excluded."""
    excluded = engine.kb.inapplicable_keys(patient_sex=excerpt.patient_sex)
    return [s.key for s in engine.suggest(excerpt.utterances, exclude_keys=excluded, limit=TOP_K)]


def baseline_static_checklist(engine: LocalSuggestionEngine, excerpt: Excerpt) -> list[str]:
    """A printed checklist for the detected complaint: same order, but blind to what was already said."""
    complaints = engine.detect_complaints(excerpt.utterances)
    if not complaints:
        return []
    return [item.key for item in engine.kb.complaint_by_key[complaints[0]].items[:TOP_K]]


def baseline_no_red_flag_priority(engine: LocalSuggestionEngine, excerpt: Excerpt) -> list[str]:
    """Coverage-aware, but walks the checklist in history order (onset, character…) with red flags last."""
    complaints = engine.detect_complaints(excerpt.utterances)
    covered = engine.covered_keys(excerpt.utterances)
    keys = []
    for complaint in complaints:
        items = engine.kb.complaint_by_key[complaint].items
        for item in sorted(items, key=lambda i: i.red_flag):
            if item.key not in covered and item.key not in keys:
                keys.append(item.key)
    return keys[:TOP_K]


SYSTEMS = {
    "local engine": engine_local,
    "local engine + patient sex (exclude_keys)": engine_local_with_sex,
    "baseline: static checklist (no coverage)": baseline_static_checklist,
    "baseline: coverage, red flags last": baseline_no_red_flag_priority,
}


def relevance(engine: LocalSuggestionEngine, excerpts: list[Excerpt], system, verbose: bool) -> dict[str, float]:
    labelled = [e for e in excerpts if e.relevant]
    quiet = [e for e in excerpts if not e.relevant]
    hits = shown = 0
    per_excerpt = []
    first_hits = 0
    for excerpt in labelled:
        keys = system(engine, excerpt)
        good = [k for k in keys if k in excerpt.relevant]
        hits += len(good)
        shown += len(keys)
        per_excerpt.append(len(good) / len(keys) if keys else 0.0)
        first_hits += bool(keys) and keys[0] in excerpt.relevant
        if verbose and len(good) < len(keys):
            print(f"    {excerpt.id}: not relevant {[k for k in keys if k not in excerpt.relevant]}")
    silent = sum(1 for e in quiet if not system(engine, e))
    return {
        "micro": hits / shown if shown else 0.0,
        "macro": statistics.fmean(per_excerpt) if per_excerpt else 0.0,
        "hit1": first_hits / len(labelled) if labelled else 0.0,
        "shown": shown,
        "labelled": len(labelled),
        "silent": silent,
        "quiet": len(quiet),
    }


# -- timing ----------------------------------------------------------------------------------------
def _clear_caches(engine: LocalSuggestionEngine) -> None:
    engine.kb.analyse.cache_clear()
    engine.kb.normalizer.tokens.cache_clear()


def _percentiles(samples_ns: list[int]) -> tuple[float, float, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[94], ms[-1]


def timing(
    engine: LocalSuggestionEngine, excerpts: list[Excerpt], repeat: int
) -> dict[str, tuple[float, float, float]]:
    long_consultation = [u for e in excerpts for u in e.utterances]  # ~90 utterances, many complaints
    results = {}

    samples = []
    for _ in range(repeat):
        for excerpt in excerpts:
            _clear_caches(engine)
            start = time.perf_counter_ns()
            engine.suggest(excerpt.utterances)
            samples.append(time.perf_counter_ns() - start)
    results[f"excerpt, cold caches (n={len(samples)})"] = _percentiles(samples)

    samples = []
    for i in range(repeat * 5):
        # The live case: everything before is cached, the newest segment is new text.
        conversation = [*long_consultation, Utterance("patient", f"e também tô sentindo isso faz {i} dias, doutor")]
        start = time.perf_counter_ns()
        engine.suggest(conversation)
        samples.append(time.perf_counter_ns() - start)
    results[f"{len(long_consultation) + 1}-utterance consultation, one new segment (n={len(samples)})"] = _percentiles(
        samples
    )

    samples = []
    for _ in range(max(repeat // 10, 5)):
        _clear_caches(engine)
        start = time.perf_counter_ns()
        engine.suggest(long_consultation)
        samples.append(time.perf_counter_ns() - start)
    results[f"{len(long_consultation)}-utterance consultation, cold caches (n={len(samples)})"] = _percentiles(samples)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100, help="timing repetitions per excerpt")
    parser.add_argument("--verbose", action="store_true", help="list suggestions judged not relevant")
    parser.add_argument("--latency-rounds", type=int, default=3,
                        help="replays of the labelled set through the saved-segment → event pipeline (0: skip)")
    args = parser.parse_args(argv)

    excerpts = load_excerpts()
    start = time.perf_counter()
    engine = LocalSuggestionEngine()
    load_ms = (time.perf_counter() - start) * 1000
    kb = engine.kb

    print("MedCall suggestion benchmark (local engine)")
    print(f"  machine: {machine_info()}")
    print(
        f"  knowledge base: {len(kb.complaints)} complaints, {len(kb.items_by_key)} items "
        f"({sum(i.red_flag for i in kb.items_by_key.values())} red flags), loaded in {load_ms:.0f} ms"
    )
    labelled = sum(1 for e in excerpts if e.relevant)
    print(f"  labelled set: {len(excerpts)} excerpts ({labelled} with labels, {len(excerpts) - labelled} small talk)")
    print()
    print(f"Relevance (top {TOP_K})")
    print(f"  {'system':<44} {'P@3 micro':>9} {'P@3 macro':>9} {'hit@1':>6} {'shown':>6} {'quiet on small talk':>20}")
    for name, system in SYSTEMS.items():
        r = relevance(engine, excerpts, system, args.verbose and name == "local engine")
        print(
            f"  {name:<44} {r['micro']:>9.2f} {r['macro']:>9.2f} {r['hit1']:>6.2f} {r['shown']:>6} "
            f"{r['silent']:>12}/{r['quiet']}"
        )
    print()
    print("Engine time per suggest() call (ms; pure function, no I/O)")
    print(f"  {'case':<62} {'p50':>7} {'p95':>7} {'max':>7}")
    for name, (p50, p95, worst) in timing(engine, excerpts, args.repeat).items():
        print(f"  {name:<62} {p50:>7.3f} {p95:>7.3f} {worst:>7.3f}")
    if args.latency_rounds > 0:
        print()
        pipeline_latency(excerpts, args.latency_rounds)
    return 0


# -- pipeline latency (assist/) --------------------------------------------------------------------
def pipeline_latency(excerpts: list[Excerpt], rounds: int) -> None:
    """Segment saved → `suggestions.updated` sent, local engine, SQLite, in-process (embedded mode)."""
    import tempfile
    import uuid

    tmp = tempfile.mkdtemp(prefix="medcall-bench-")
    os.environ.update({"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "REDIS_URL": "", "SUGGESTION_ENGINE": "local",
                       "CELERY_TASK_ALWAYS_EAGER": "true", "LOG_LEVEL": "WARNING"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medcall.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from assist.engines.local import shared_local_engine
    from assist.services import suggestions_after_segment
    from audit.services import AuditContext
    from consultations.services import consultation_create
    from medcall import realtime
    from patients.models import Clinic, Doctor
    from patients.services import patient_create
    from transcription.models import TranscriptSegment

    call_command("migrate", verbosity=0)
    ctx = AuditContext.system("bench")
    clinic = Clinic.objects.create(name="Bench")
    user = __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model().objects.create_user("bench")
    doctor = Doctor.objects.create(user=user, clinic=clinic)
    patient = patient_create(ctx=ctx, clinic=clinic, full_name="Paciente Bench")
    shared_local_engine()  # the KB loads once per process, before the first consultation

    pipeline_ns: list[int] = []
    engine_ns: list[int] = []
    nonempty = 0
    for _ in range(rounds):
        for excerpt in excerpts:
            consultation = consultation_create(ctx=ctx, doctor=doctor, patient=patient, scheduled_for=timezone.now())
            group = realtime.consultation_group(consultation.pk)
            spoken: list[Utterance] = []
            for i, utterance in enumerate(excerpt.utterances):
                sent: list[int] = []

                def publish(g, event, sent=sent):
                    realtime.send(g, event)
                    sent.append(time.perf_counter_ns())

                with transaction.atomic():
                    segment = TranscriptSegment.objects.create(
                        consultation=consultation, utterance_key=uuid.uuid4(), speaker=utterance.speaker,
                        text=utterance.text, start_ms=i * 3000, end_ms=i * 3000 + 2500, engine="bench")
                    saved = time.perf_counter_ns()
                    suggestions_after_segment(consultation_id=consultation.pk, segment_id=segment.pk, publish=publish)
                assert sent and group, "the refresh published its event"
                pipeline_ns.append(sent[0] - saved)
                spoken.append(utterance)
                start = time.perf_counter_ns()
                nonempty += bool(shared_local_engine().suggest(spoken))
                engine_ns.append(time.perf_counter_ns() - start)

    print("Pipeline latency: final segment saved → suggestions.updated sent (ms; local engine, SQLite, in-process)")
    print(f"  {'case':<62} {'p50':>7} {'p95':>7} {'max':>7}")
    for name, samples in ((f"segment saved → event sent (n={len(pipeline_ns)})", pipeline_ns),
                          (f"baseline: engine suggest() alone, same transcripts (n={len(engine_ns)})", engine_ns)):
        p50, p95, worst = _percentiles(samples)
        print(f"  {name:<62} {p50:>7.3f} {p95:>7.3f} {worst:>7.3f}")
    print(f"  segments with at least one suggestion: {nonempty}/{len(engine_ns)}")


if __name__ == "__main__":
    sys.exit(main())
