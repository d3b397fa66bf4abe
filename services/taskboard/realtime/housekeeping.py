"""A pod's periodic upkeep: its consumer-group heartbeat, its presence members, the stream lag
metric, and removing the consumer groups of pods that are gone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskboard.core.config import Settings
from taskboard.core.lifecycle import pause
from taskboard.realtime import consumer
from taskboard.realtime.presence import Presence
from taskboard.realtime.subscriber import Connection

log = logging.getLogger("taskboard.realtime")
GROUP_GC_EVERY_TICKS = 6


async def run(
    redis: Redis,
    settings: Settings,
    presence: Presence,
    connections: Iterable[Connection],
    stop: asyncio.Event,
) -> None:
    pod = settings.pod_name
    interval = max(1.0, settings.presence_ttl_seconds / 3)
    ticks = 0
    while not stop.is_set():
        await pause(stop, interval)
        ticks += 1
        try:
            entries = [
                (board_id, c.user_id, c.id)
                for c in list(connections)
                for board_id in c.subscriptions
            ]
            await consumer.heartbeat(
                redis, pod=pod, ttl_seconds=settings.consumer_group_idle_seconds
            )
            await presence.refresh(entries)
            await consumer.sample_lag(redis, shards=settings.stream_shards, pod=pod)
            if ticks % GROUP_GC_EVERY_TICKS == 0:
                await consumer.remove_abandoned_groups(
                    redis,
                    shards=settings.stream_shards,
                    pod=pod,
                    idle_ms=settings.consumer_group_idle_seconds * 1000,
                )
        except (RedisError, OSError) as exc:
            log.warning("housekeeping failed", extra={"error": repr(exc)})
