"""Where transcription runs, so it never blocks the event loop.

- `inprocess` (default): a few worker threads in this process, fed by a priority queue. Finished
  utterances go first, in arrival order; partial previews only run when no finished utterance is
  waiting, and at most one per stream is queued (a newer preview replaces an older one). Audio is
  never dropped: finished utterances are on disk and in the database before they are queued.
- `celery` (REDIS_URL set and TRANSCRIPTION_QUEUE=celery): finished utterances go to the Celery
  `stt` queue (see tasks.py), so transcription scales on separate CPU/GPU machines sharing
  RECORDINGS_DIR. Partial previews are an in-process feature and are not produced in this mode.

Results reach browsers through `medcall.realtime`; in-process they are sent on the event loop of
the consumer that queued the work (the in-memory channel layer is not thread-safe).
"""
from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import close_old_connections

from medcall import realtime

log = logging.getLogger(__name__)

FINAL, PARTIAL, STOP = 0, 1, 2


def use_celery() -> bool:
    return settings.TRANSCRIPTION_QUEUE == "celery" and bool(settings.REDIS_URL)


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    kind: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    loop: asyncio.AbstractEventLoop | None = field(compare=False, default=None)


def loop_publisher(loop: asyncio.AbstractEventLoop | None):
    """A `publish(group, payload)` that delivers on `loop` (thread-safe), or sends directly."""
    if loop is None or loop.is_closed():
        return realtime.send

    def publish(group: str, payload: dict) -> None:
        if loop.is_closed():
            return
        fut = asyncio.run_coroutine_threadsafe(realtime.asend(group, payload), loop)
        try:
            fut.result(timeout=10)
        except Exception:
            log.warning("transcript event to %s not delivered", group, exc_info=True)

    return publish


class TranscriptionPool:
    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self._queue: queue.PriorityQueue[_Job] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._partial_pending: dict[str, _Job] = {}  # stream key → queued preview
        self._finals_waiting = 0
        self._running = 0
        # Utterances already cut: a preview of them that is still queued or running is thrown away,
        # so a grey partial never lands after its final.
        self._cut: dict[str, None] = {}

    def _ensure_started(self):
        with self._lock:
            if self._threads:
                return
            for i in range(self.workers):
                t = threading.Thread(target=self._run, name=f"stt-worker-{i}", daemon=True)
                t.start()
                self._threads.append(t)

    # -- submission (from the event loop; never blocks) -----------------------------------------
    def submit_final(self, utterance_id: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._ensure_started()
        with self._lock:
            self._finals_waiting += 1
        self._queue.put(_Job(FINAL, next(self._seq), "final", {"utterance_id": utterance_id}, loop))

    def submit_partial(self, *, stream: str, consultation_id: int, utterance: str, speaker: str, start_ms: int,
                       pcm: np.ndarray, loop: asyncio.AbstractEventLoop | None = None) -> bool:
        """Queue a preview of an utterance in progress. False when skipped because the workers are
        busy with finished utterances (previews are optional; the final always follows)."""
        self._ensure_started()
        with self._lock:
            # Previews only use idle capacity: never ahead of, or alongside, a finished utterance.
            if self._finals_waiting > 0 or self._running >= self.workers:
                return False
            previous = self._partial_pending.get(stream)
            payload = {"consultation_id": consultation_id, "utterance": utterance, "speaker": speaker,
                       "start_ms": start_ms, "pcm": pcm, "stream": stream}
            if previous is not None:
                previous.payload = payload  # still queued: just preview newer audio
                return True
            job = _Job(PARTIAL, next(self._seq), "partial", payload, loop)
            self._partial_pending[stream] = job
        self._queue.put(job)
        return True

    def utterance_cut(self, utterance: str) -> None:
        with self._lock:
            self._cut[utterance] = None
            while len(self._cut) > 10_000:
                self._cut.pop(next(iter(self._cut)))

    def _is_cut(self, utterance: str) -> bool:
        with self._lock:
            return utterance in self._cut

    def shutdown(self, timeout: float = 60.0) -> None:
        """Let running jobs finish (a native Whisper call cut off at interpreter exit aborts the
        process); queued finals stay in the database and are picked up by tasks.retry_failed."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_Job(-1, -1, "stop", {}))
        for t in threads:
            t.join(timeout)

    def idle(self) -> bool:
        return self._queue.empty() and self._finals_waiting == 0

    # -- workers -----------------------------------------------------------------------------------
    def _run(self):
        while True:
            job = self._queue.get()
            if job.kind == "stop":
                self._queue.task_done()
                return
            with self._lock:
                self._running += 1
            try:
                if job.kind == "final":
                    with self._lock:
                        self._finals_waiting -= 1
                    self._run_final(job)
                else:
                    with self._lock:
                        self._partial_pending.pop(job.payload["stream"], None)
                    self._run_partial(job)
            except Exception:
                # A bad job never kills the worker; the utterance stays on disk and is retried.
                log.exception("transcription job failed")
            finally:
                with self._lock:
                    self._running -= 1
                close_old_connections()
                self._queue.task_done()

    def _run_final(self, job: _Job):
        from .services import utterance_transcribe

        close_old_connections()
        utterance_id = job.payload["utterance_id"]
        outcome = utterance_transcribe(utterance_id=utterance_id, publish=loop_publisher(job.loop))
        if outcome.retry:
            # In-process retry: the same worker queue, later; tasks.retry_failed sweeps up anything a
            # restart lost.
            timer = threading.Timer(settings.TRANSCRIPTION_RETRY_DELAY_S, self.submit_final, (utterance_id, job.loop))
            timer.daemon = True
            timer.start()

    def _run_partial(self, job: _Job):
        from .engines import get_engine
        from .services import partial_event

        p = job.payload
        if self._is_cut(p["utterance"]):
            return
        result = get_engine().transcribe(p["pcm"])
        if result.text and not self._is_cut(p["utterance"]):
            loop_publisher(job.loop)(
                realtime.consultation_group(p["consultation_id"]),
                partial_event(consultation_id=p["consultation_id"], utterance=p["utterance"], speaker=p["speaker"],
                              start_ms=p["start_ms"], text=result.text),
            )


_pool: TranscriptionPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> TranscriptionPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = TranscriptionPool(settings.TRANSCRIPTION_WORKERS)
            atexit.register(_pool.shutdown)
        return _pool


def dispatch_utterance(utterance_id: int, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Send a saved utterance to whichever transcriber is configured."""
    if use_celery():
        from .tasks import transcribe_utterance

        transcribe_utterance.apply_async(args=(utterance_id,), queue="stt")
    else:
        get_pool().submit_final(utterance_id, loop)
