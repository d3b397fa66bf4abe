"""Handing an import job to the worker: a Dramatiq message on the `imports` queue, naming the
job. The api has no actors of its own, so it sends the message through a broker of its own
(Dramatiq's Redis protocol, the worker's queue); the worker's `import_board` actor takes it.
A message that never arrives (Redis down at that moment) is sent again by the worker's sweep
of jobs left queued."""

from __future__ import annotations

import asyncio
import logging
import uuid
from functools import cache

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from redis.exceptions import RedisError

from taskboard.core.telemetry import current_traceparent

QUEUE = "imports"
ACTOR = "import_board"

log = logging.getLogger("taskboard.transfer")


@cache
def _broker(redis_url: str) -> RedisBroker:
    return RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]


def message(job_id: uuid.UUID) -> dramatiq.Message[None]:
    traceparent = current_traceparent()
    return dramatiq.Message(
        queue_name=QUEUE,
        actor_name=ACTOR,
        args=(str(job_id),),
        kwargs={},
        options={"traceparent": traceparent} if traceparent else {},
    )


async def enqueue(redis_url: str, job_id: uuid.UUID) -> None:
    """Best effort: a job whose message is lost is found by the worker's sweep."""
    try:
        await asyncio.to_thread(_broker(redis_url).enqueue, message(job_id))
    except (RedisError, OSError) as exc:
        log.warning("import job not queued; the sweep will", extra={"error": repr(exc)})
