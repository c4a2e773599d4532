"""The queue: list the trainings, pause, resume and stop them, and stream their events.

``GET /api/jobs/{id}/events`` is a server-sent-event stream: every event the job published
(``state``, ``points``, ``metrics``, ``epoch``) in order from the start, then, as they come, the
new ones and the newest ``boundary``; an ``end`` event closes it when the job has finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from nnatlas.lab.jobs import Job, sse

POLL_S = 0.1  # how often a stream looks for new events: 10 clients cost 100 wake-ups a second
HEARTBEAT_S = 15.0  # a comment line, so proxies and browsers keep an idle stream open


def router(lab: Any) -> Any:
    from fastapi import APIRouter
    from fastapi.responses import StreamingResponse

    api = APIRouter(prefix="/api/jobs")

    @api.get("")
    def jobs() -> list[dict[str, Any]]:
        return [job.summary() for job in lab.queue.jobs.values()]

    @api.get("/{job_id}")
    def job(job_id: int) -> dict[str, Any]:
        return lab.queue.get(job_id).summary()

    @api.post("/{job_id}/{action}")
    def control(job_id: int, action: str) -> dict[str, Any]:
        from nnatlas.lab.jobs import JobError

        job = lab.queue.get(job_id)
        if action not in ("pause", "resume", "stop"):
            raise JobError(f"action {action!r}: choose pause, resume or stop")
        getattr(job, action)()
        return job.summary()

    @api.get("/{job_id}/events")
    async def events(job_id: int) -> Any:
        job = lab.queue.get(job_id)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(job), media_type="text/event-stream", headers=headers)

    return api


async def stream(job: Job) -> AsyncIterator[str]:
    """The job's events as SSE text, until it has finished."""
    sent, seen, idle = 0, {}, 0.0
    yield "retry: 3000\n\n"
    while True:
        finished = job.finished  # read before collecting, so nothing published before is missed
        chunks = []
        if sent < len(job.events):
            end = len(job.events)
            chunks.extend(job.events[sent:end])
            sent = end
        for kind, (seq, text) in list(job.latest.items()):
            if seen.get(kind) != seq:
                chunks.append(text)
                seen[kind] = seq
        if chunks:
            idle = 0.0
            yield "".join(chunks)
        elif finished:
            yield sse("end", job.summary())
            return
        else:
            await asyncio.sleep(POLL_S)
            idle += POLL_S
            if idle >= HEARTBEAT_S:
                idle = 0.0
                yield ": still here\n\n"
