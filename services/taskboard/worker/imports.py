"""Board imports in the worker: the `import_board` actor builds a queued job's board (see
transfer.service.run: one transaction, one board per job however often it runs), and a sweep
sends again the message of a job nobody is working on (the api's send was lost, or a worker
died and Redis lost its message too)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from dramatiq.middleware import CurrentMessage

from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources, background
from taskboard.core.telemetry import continued
from taskboard.transfer import queue, service

log = logging.getLogger("taskboard.imports")

QUEUE = queue.QUEUE
ACTOR = queue.ACTOR
MAX_RETRIES = 3
TIME_LIMIT_MS = 30 * 60 * 1000
SWEEP_SECONDS = 30


async def import_board(resources: Resources, job_id: str) -> None:
    """The actor's body. A failure that retrying may cure (the database went away) is raised
    for Dramatiq to retry, until the last attempt, which marks the job failed."""
    message = CurrentMessage.get_current_message()
    retries = int(message.options.get("retries", 0)) if message is not None else MAX_RETRIES
    traceparent = message.options.get("traceparent") if message is not None else None
    with continued("import_board", str(traceparent) if traceparent else None, import_id=job_id):
        await service.run(resources, uuid.UUID(job_id), final=retries >= MAX_RETRIES)


async def sweep(resources: Resources, stop: asyncio.Event) -> None:
    """A job queued, or running without progress, for TASKBOARD_IMPORT_STALE_SECONDS lost its
    message or its worker (Dramatiq requeues a dead worker's messages too, but only after
    minutes): its message is sent again. A job still being built is never built twice: the
    worker that gets the copy finds it locked and lets it be."""
    stale = timedelta(seconds=resources.settings.import_stale_seconds)
    every = min(SWEEP_SECONDS, stale.total_seconds() / 2)
    while not stop.is_set():
        try:
            for job_id in await service.stale(resources, queued_for=stale, running_for=stale):
                log.info("import job sent again", extra={"import_id": str(job_id)})
                await queue.enqueue(resources.settings.redis_url, job_id)
        except Exception:
            log.exception("import sweep failed")
        await pause(stop, every)


running_import_sweeper = background("import-sweeper", sweep)
