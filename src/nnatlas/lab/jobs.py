"""The lab's training queue: jobs wait their turn, a few run at once, each one streams events.

A job is one training (a playground MLP or a zoo model through :func:`nnatlas.tasks.train`).
The queue runs at most ``slots`` jobs at the same time (the core budget: one training per core,
each on one thread), the rest wait in order. A running job calls :meth:`Job.checkpoint`
between steps: that is where it pauses (blocking until resumed) and where a stop request ends
it. What a job reports is kept as server-sent-event text, encoded once when it is published,
so ten clients watching cost ten socket writes and no JSON encoding each (see
``benchmarks/lab_clients.py``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnatlas.errors import NnatlasError

STATES = ("queued", "running", "paused", "stopping", "stopped", "done", "failed")
FINISHED = ("stopped", "done", "failed")


class JobStopped(Exception):
    """Raised inside a training by :meth:`Job.checkpoint` after a stop request."""


class JobError(NnatlasError, ValueError):
    """A job that does not exist, or an action its state does not allow."""


def sse(kind: str, data: Any, seq: int | None = None) -> str:
    """One server-sent event: ``id``, ``event`` and ``data`` lines and the blank line."""
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass
class Job:
    """One training in the queue.

    Attributes:
        id: a short number, unique for the lab's life.
        kind: ``"playground"`` or ``"train"``.
        title: what the queue shows (``"mlp on moons"``).
        spec: the options it was started with (plain values).
        state: one of :data:`STATES`.
        events: the reported events, as SSE text, in order (metrics, epochs, the end).
        latest: per kind of *replaceable* event (the decision boundary), only the newest one:
            ``kind -> (sequence number, SSE text)``; a late client gets the current picture.
        result: what the finished job reports (plain values: the run folder's name, metrics).
        artifact: what it leaves for later requests (a playground's trained network).
        seconds: the training's own wall time, paused time left out.
    """

    id: int
    kind: str
    title: str
    spec: dict[str, Any]
    work: Callable[[Job], Any]
    state: str = "queued"
    events: list[str] = field(default_factory=list)
    latest: dict[str, tuple[int, str]] = field(default_factory=dict)
    result: Any = None
    artifact: Any = None
    error: str = ""
    seconds: float = 0.0
    created: float = field(default_factory=time.time)
    _seq: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _resume: threading.Event = field(default_factory=threading.Event)
    _stop: bool = False
    _paused_s: float = 0.0
    _started: bool = False  # claimed by the queue (it may still be about to start)

    def __post_init__(self) -> None:
        self._resume.set()

    # -- reporting (the training thread) ------------------------------------------------------
    def publish(self, kind: str, data: Any, replace: bool = False) -> None:
        """Report ``data`` as an event of ``kind``; ``replace``: only the newest one matters."""
        with self._cond:
            self._seq += 1
            text = sse(kind, data, self._seq)
            if replace:
                self.latest[kind] = (self._seq, text)
            else:
                self.events.append(text)
            self._cond.notify_all()

    def checkpoint(self) -> None:
        """Called between training steps: wait while paused, end the training when stopped."""
        if self._stop:
            raise JobStopped
        if not self._resume.is_set():
            start = time.perf_counter()
            self._set_state("paused")
            self._resume.wait()
            self._paused_s += time.perf_counter() - start
            if self._stop:
                raise JobStopped
            self._set_state("running")

    # -- control (the web requests) -----------------------------------------------------------
    def pause(self) -> None:
        if self.state not in ("queued", "running"):
            raise JobError(f"job {self.id} is {self.state}; only a queued or running job pauses")
        self._resume.clear()
        if self.state == "queued":
            self._set_state("paused")

    def resume(self) -> None:
        if self.state != "paused":
            raise JobError(f"job {self.id} is {self.state}, not paused; nothing to resume")
        self._resume.set()
        if not self._started:
            self._set_state("queued")

    def stop(self) -> None:
        if self.state in FINISHED:
            raise JobError(f"job {self.id} has already {self.state}")
        self._stop = True
        self._resume.set()
        self._set_state("stopping" if self._started else "stopped")

    # -- state --------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        with self._cond:
            self.state = state
            self._seq += 1
            self.events.append(sse("state", {"state": state, "error": self.error}, self._seq))
            self._cond.notify_all()

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or ``timeout`` seconds passed (False)."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self.finished:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def summary(self) -> dict[str, Any]:
        """What the queue view shows of the job (plain values)."""
        result = self.result if isinstance(self.result, dict) else None
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "result": result,
            "spec": self.spec,
        }

    def run(self) -> None:
        """Run the work in this thread, recording how it ended."""
        self._started = True
        self._set_state("running")
        start = time.perf_counter()
        try:
            self.result = self.work(self)
            final = "done"
        except JobStopped:
            final = "stopped"
        except NnatlasError as err:  # bad options or data: the message says what to do
            self.error, final = str(err), "failed"
        except Exception as err:  # a bug: keep the traceback for the server's log
            self.error, final = f"{type(err).__name__}: {err}", "failed"
            traceback.print_exc()
        self.seconds = time.perf_counter() - start - self._paused_s
        self._set_state(final)


class JobQueue:
    """Jobs in order; at most ``slots`` run at once, each in its own thread."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"JobQueue: slots must be at least 1, got {slots}")
        self.slots = slots
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._runner = threading.Thread(target=self._dispatch, name="lab-queue", daemon=True)
        self._runner.start()

    def submit(
        self, kind: str, title: str, spec: dict[str, Any], work: Callable[[Job], Any]
    ) -> Job:
        """Queue a training; ``work(job)`` runs when a slot is free and returns the result."""
        with self._lock:
            job = Job(next(self._ids), kind, title, spec, work)
            self.jobs[job.id] = job
            self._wake.notify_all()
        return job

    def get(self, job_id: int) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobError(f"no job {job_id}; the queue holds {sorted(self.jobs) or 'none'}")
        return job

    def running(self) -> list[Job]:
        return [j for j in self.jobs.values() if j._started and not j.finished]

    def close(self) -> None:
        """Stop every job and the dispatcher (the server is shutting down)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        for job in list(self.jobs.values()):
            if not job.finished:
                job.stop()

    def _next(self) -> Job | None:
        if len(self.running()) >= self.slots:
            return None
        for job in self.jobs.values():  # dicts keep insertion order: first come, first served
            if not job._started and job.state == "queued":
                return job
        return None

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                job = self._next()
                while job is None and not self._closed:
                    self._wake.wait(0.2)  # also wakes when a job finishes or is resumed
                    job = self._next()
                if self._closed:
                    return
                job._started = True  # claimed: the next round looks past it
            threading.Thread(target=self._run, args=(job,), name=f"lab-job-{job.id}").start()

    def _run(self, job: Job) -> None:
        try:
            job.run()
        finally:
            with self._lock:
                self._wake.notify_all()
