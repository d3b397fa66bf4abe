"""The worker's queue gauges against real Redis and a real Dramatiq worker: what waits in each
queue (imports included) and what Dramatiq gave up on (its `.XQ` dead-letter set), which the
TaskboardQueueBacklog and TaskboardQueueDeadLetters alerts read."""

from __future__ import annotations

import asyncio
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from prometheus_client import REGISTRY

from taskboard.core.config import Settings
from taskboard.core.runtime import Resources
from taskboard.transfer import queue as transfer_queue
from taskboard.worker import jobs
from tests.helpers import eventually


def sampled(name: str, queue: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"queue": queue})


async def test_sampling_follows_ready_and_dead_messages(
    resources: Resources, settings: Settings
) -> None:
    broker = RedisBroker(url=settings.redis_url)  # type: ignore[no-untyped-call]

    def always_fails(attachment_id: str) -> None:
        raise RuntimeError(f"store unreachable for {attachment_id}")

    # The thumbnail actor's name and queue, failing for good on its first try: what the real
    # one does after its last retry.
    actor = dramatiq.actor(
        broker=broker,
        actor_name="make_thumbnail",
        queue_name=jobs.THUMBNAIL_QUEUE,
        max_retries=0,
    )(always_fails)
    for n in range(3):
        actor.send(f"attachment-{n}")
    await transfer_queue.enqueue(settings.redis_url, uuid.uuid4())

    await jobs.sample_queues(resources)
    assert sampled("taskboard_queue_depth", jobs.THUMBNAIL_QUEUE) == 3
    assert sampled("taskboard_queue_depth", transfer_queue.QUEUE) == 1
    assert sampled("taskboard_queue_depth", jobs.EMAIL_QUEUE) == 0
    assert sampled("taskboard_queue_dead_letters", jobs.THUMBNAIL_QUEUE) == 0

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:

        async def dead() -> float | None:
            await jobs.sample_queues(resources)
            return sampled("taskboard_queue_dead_letters", jobs.THUMBNAIL_QUEUE)

        assert await eventually(dead, lambda value: value == 3) == 3
    finally:
        await asyncio.to_thread(worker.stop, 5_000)
        broker.close()
    assert sampled("taskboard_queue_depth", jobs.THUMBNAIL_QUEUE) == 0
    # Only the queue whose actor failed has dead letters; the import waits untouched.
    assert sampled("taskboard_queue_dead_letters", transfer_queue.QUEUE) == 0
    assert sampled("taskboard_queue_depth", transfer_queue.QUEUE) == 1
