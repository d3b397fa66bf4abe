"""The notifier: one consumer group shared by every worker over every event stream shard, so
each entry is handled by one worker; entries a dead worker left pending are claimed by the
others (XAUTOCLAIM) once idle long enough. Handling is idempotent (notifications are unique
per user and cause), so a redelivered entry changes nothing. New notifications are pushed to
their users' sockets on whichever realtime pod holds them (`tb:notifications`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from taskboard.core.config import Settings
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources
from taskboard.core.streams import StreamEvent, stream_key
from taskboard.core.telemetry import continued, current_traceparent
from taskboard.notifications import service
from taskboard.notifications.reminders import Claimed
from taskboard.notifications.schemas import NotificationRead
from taskboard.webhooks import service as webhooks
from taskboard.worker import files, jobs, reminders
from taskboard.worker.announce import push

log = logging.getLogger("taskboard.notifier")
GROUP = "notifier"
SAMPLE_EVERY = 5.0  # seconds between samples of a shard's pending count and lag

HANDLED = Counter("taskboard_notifier_events", "Stream entries the notifier handled")
FAILURES = Counter("taskboard_notifier_failures", "Stream entries whose handling failed")
PENDING = Gauge(
    "taskboard_notifier_pending",
    "Stream entries delivered to a notifier and not yet acknowledged, per shard",
    ["shard"],
    multiprocess_mode="livemax",  # shared state, sampled by each process
)
BEHIND = Gauge(
    "taskboard_notifier_lag_seconds",
    "How old the newest entry a shard's notifiers have read is behind the stream's newest",
    ["shard"],
    multiprocess_mode="livemax",
)


async def ensure_group(redis: Redis, key: str) -> None:
    """Created once at the stream's end; a restarting worker resumes where the group is."""
    try:
        await redis.xgroup_create(key, GROUP, id="$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def handle_events(resources: Resources, events: list[StreamEvent]) -> None:
    """Handle `events` in one transaction (one commit for a whole stream batch), then push
    what they created and queue its sends, and the thumbnails of images added. A thumbnail
    is queued for every such entry read, handled before or not: the entry is acknowledged
    only after that, so a worker dying in between leaves it to be read and queued again
    (the job itself does its work once)."""
    queue = jobs.current()
    mail = queue.mail_options() if queue is not None else None
    late_after = timedelta(seconds=resources.settings.reminder_late_after_seconds)
    # What each event's handling queues goes on in that event's trace.
    endpoints: dict[uuid.UUID, str | None] = {}
    created: list[NotificationRead] = []
    emails: dict[str | None, list[uuid.UUID]] = {}
    reminded: list[Claimed] = []
    thumbnails: dict[uuid.UUID, str | None] = {}
    async with resources.sessionmaker() as session, session.begin():
        # Boards in one order everywhere: two workers' batches lock their progress rows in
        # the same order, so they wait for each other instead of deadlocking.
        for event in sorted(events, key=lambda e: (str(e.board_id), e.seq)):
            with continued(
                f"notify {event.type}",
                event.traceparent,
                board_id=str(event.board_id),
                seq=event.seq,
            ):
                handled = await service.handle(session, event, mail=mail, late_after=late_after)
                for each in [*handled.events, event]:  # gaps filled from the log, and it
                    wanted = files.thumbnail_for(each)
                    if wanted is not None:
                        thumbnails.setdefault(wanted, current_traceparent())
                for each in handled.events:
                    for endpoint in await webhooks.record_deliveries(session, each):
                        endpoints.setdefault(endpoint, current_traceparent())
                emails.setdefault(current_traceparent(), []).extend(handled.emails)
            created += handled.notifications
            reminded.append(handled.reminded)
    HANDLED.inc(len(events))
    for claimed in reminded:
        reminders.observe(claimed)
    await push(resources.redis, created)
    if queue is not None:
        for traceparent, ids in emails.items():
            await queue.enqueue_emails(ids, traceparent=traceparent)
        for endpoint, traceparent in endpoints.items():
            await queue.enqueue_webhooks([endpoint], traceparent=traceparent)
        await queue.enqueue_thumbnails(thumbnails)


async def _handle_all(
    resources: Resources, key: str, entries: list[tuple[bytes, dict[bytes, bytes]]]
) -> None:
    redis = resources.redis
    decoded: list[tuple[bytes, StreamEvent]] = []
    for entry_id, fields in entries:
        try:
            decoded.append((entry_id, StreamEvent.decode(fields[b"e"])))
        except (KeyError, ValueError, json.JSONDecodeError):
            log.warning("unreadable stream entry dropped", extra={"entry": entry_id.decode()})
            await redis.xack(key, GROUP, entry_id)
    if not decoded:
        return
    try:
        await handle_events(resources, [event for _, event in decoded])
    except Exception:
        # One bad entry must not hold the batch back: again, one at a time.
        for entry_id, event in decoded:
            try:
                await handle_events(resources, [event])
            except Exception:
                # Left pending: retried by whichever worker claims it after the idle time.
                FAILURES.inc()
                log.exception(
                    "notifier could not handle an entry", extra={"entry": entry_id.decode()}
                )
                continue
            await redis.xack(key, GROUP, entry_id)
        return
    await redis.xack(key, GROUP, *(entry_id for entry_id, _ in decoded))


async def _sample(redis: Redis, key: str, shard: int) -> None:
    """Pending entries, and the age gap between the group's last read and the stream's end
    (entry ids are milliseconds): the notifier's lag, on Redis 6.2 as on 7."""
    summary: Any = await redis.xpending(key, GROUP)
    PENDING.labels(str(shard)).set(int(summary.get("pending", 0)) if summary else 0)
    groups: Any = await redis.xinfo_groups(key)
    info: Any = await redis.xinfo_stream(key)
    last = next((g for g in groups if g.get("name") in (GROUP, GROUP.encode())), None)
    newest = info.get("last-generated-id") or info.get("last_generated_id")
    if last is None or not newest:
        return
    read = last.get("last-delivered-id") or b"0-0"

    def ms(entry_id: Any) -> int:
        text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return int(text.split("-", 1)[0])

    BEHIND.labels(str(shard)).set(max(0, ms(newest) - ms(read)) / 1000)


def consumer_name(settings: Settings) -> str:
    """The pod's name, and the process's when the pod runs several (TASKBOARD_WORKER_PROCESSES):
    a crashed process's pending entries are then its own, taken over by the others."""
    if settings.worker_processes == 1:
        return settings.pod_name
    return f"{settings.pod_name}-{os.getpid()}"


async def consume_shard(
    resources: Resources, *, shard: int, stop: asyncio.Event, batch: int = 100
) -> None:
    redis, consumer = resources.redis, consumer_name(resources.settings)
    claim_idle_ms = int(resources.settings.notifier_claim_idle_seconds * 1000)
    key = stream_key(shard)
    joined = False
    sampled = 0.0
    while not stop.is_set():
        try:
            if not joined:
                await ensure_group(redis, key)
                joined = True
            if time.monotonic() - sampled > SAMPLE_EVERY:
                sampled = time.monotonic()
                await _sample(redis, key, shard)
            claimed: Any = await redis.xautoclaim(
                key, GROUP, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=batch
            )
            if claimed and claimed[1]:
                await _handle_all(resources, key, claimed[1])
            response: Any = await redis.xreadgroup(
                GROUP, consumer, {key: ">"}, count=batch, block=1000
            )
            for _stream, entries in response or []:
                await _handle_all(resources, key, entries)
        except (RedisError, OSError) as exc:
            joined = False
            log.warning("notifier lost Redis", extra={"error": repr(exc), "shard": shard})
            await pause(stop, 1.0)


@asynccontextmanager
async def running_notifier(_app: FastAPI, resources: Resources) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            consume_shard(resources, shard=shard, stop=stop), name=f"notifier-{shard}"
        )
        for shard in range(resources.settings.stream_shards)
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
