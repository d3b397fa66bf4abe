"""A pod's periodic upkeep: its consumer-group heartbeat, its presence members, the stream lag
metric, removing the consumer groups of pods that are gone, and closing stalled sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskboard.core.config import Settings
from taskboard.core.lifecycle import pause
from taskboard.realtime import consumer, metrics, protocol
from taskboard.realtime.presence import Presence
from taskboard.realtime.subscriber import Connection

log = logging.getLogger("taskboard.realtime")
GROUP_GC_EVERY_TICKS = 6
STALL_CHECK_SECONDS = 1.0


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


async def close_stalled(
    connections: Iterable[Connection], limit_seconds: float, stop: asyncio.Event
) -> None:
    """Every second, close with 4008 the sockets whose peer has not taken a frame for
    `limit_seconds` (TASKBOARD_WS_SEND_TIMEOUT_SECONDS)."""
    while not stop.is_set():
        await pause(stop, STALL_CHECK_SECONDS)
        now = time.monotonic()
        for connection in list(connections):
            if connection.stalled(now, limit_seconds) and not connection.closing:
                metrics.SLOW_CONSUMERS.inc()
                log.info("closing stalled consumer", extra={"connection": connection.id})
                connection.kick(protocol.CLOSE_SLOW_CONSUMER, "stopped reading; resume with since")
