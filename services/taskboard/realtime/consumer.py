"""Reading the event streams: one consumer group per pod on every shard, so every pod sees
every event; entries are acknowledged after fan-out. Groups left by vanished pods are removed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from taskboard.core.lifecycle import pause
from taskboard.core.streams import StreamEvent, stream_key
from taskboard.realtime import metrics

log = logging.getLogger("taskboard.realtime")
GROUP_PREFIX = "rt:"
HEARTBEAT_PREFIX = "tb:rt:pod:"


def group_name(pod: str) -> str:
    return f"{GROUP_PREFIX}{pod}"


async def ensure_group(redis: Redis, key: str, group: str) -> None:
    """Join at the stream's end: a pod (re)starting has no clients waiting for older entries."""
    try:
        await redis.xgroup_create(key, group, id="$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        await redis.xgroup_setid(key, group, id="$")


async def consume(
    redis: Redis,
    *,
    shard: int,
    pod: str,
    dispatch: Callable[[StreamEvent], None],
    stop: asyncio.Event,
    batch: int = 500,
) -> None:
    key, group = stream_key(shard), group_name(pod)
    joined = False
    while not stop.is_set():
        try:
            if not joined:
                await ensure_group(redis, key, group)
                joined = True
            # NOACK: nothing is ever read back from this group's pending list (the group is
            # the pod's own, a restarted pod reads only new entries, and the log fills any
            # gap), so keeping one would cost an XACK round trip per read for nothing.
            response: Any = await redis.xreadgroup(
                group, pod, {key: ">"}, count=batch, block=1000, noack=True
            )
            for _stream, entries in response or []:
                for entry_id, fields in entries:
                    try:
                        dispatch(StreamEvent.decode(fields[b"e"]))
                    except (KeyError, ValueError):
                        log.warning("undecodable stream entry", extra={"id": str(entry_id)})
        except ResponseError as exc:
            # NOGROUP: Redis lost its data (restart, flush). Join again; the log fills any gap.
            log.warning("stream read failed", extra={"shard": shard, "error": str(exc)})
            joined = False
            await pause(stop, 0.2)
        except (RedisError, OSError) as exc:
            log.warning("stream read failed", extra={"shard": shard, "error": repr(exc)})
            joined = False
            await pause(stop, 1.0)


async def heartbeat(redis: Redis, *, pod: str, ttl_seconds: int) -> None:
    """A live pod says so. Consumer idle time alone cannot: on Redis 6.2 a blocking read that
    returns nothing does not reset it, so a quiet pod would look abandoned."""
    await redis.set(f"{HEARTBEAT_PREFIX}{pod}", b"1", ex=ttl_seconds)


async def _groups(redis: Redis, shards: int) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
    """(shard, stream key, XINFO GROUPS entry) for every group on every existing shard."""
    for shard in range(shards):
        key = stream_key(shard)
        try:
            groups = await redis.xinfo_groups(key)
        except ResponseError:
            continue  # no such stream yet
        for info in groups:
            yield shard, key, {k: _text(v) for k, v in info.items()}


async def remove_abandoned_groups(redis: Redis, *, shards: int, pod: str, idle_ms: int) -> int:
    """Destroy other pods' groups when the pod's heartbeat has expired and its consumers have
    all been idle longer than `idle_ms` (both: after a Redis flush heartbeats come back first)."""
    removed = 0
    mine = group_name(pod)
    async for shard, key, info in _groups(redis, shards):
        name = info["name"]
        if not name.startswith(GROUP_PREFIX) or name == mine:
            continue
        if await redis.exists(f"{HEARTBEAT_PREFIX}{name.removeprefix(GROUP_PREFIX)}"):
            continue
        consumers = await redis.xinfo_consumers(key, name)
        if all(int(c["idle"]) > idle_ms for c in consumers):
            await redis.xgroup_destroy(key, name)
            removed += 1
            log.info("removed abandoned consumer group", extra={"group": name, "shard": shard})
    return removed


async def sample_lag(redis: Redis, *, shards: int, pod: str, cap: int = 10_000) -> None:
    """Entries after this pod's last-delivered id, per shard (Redis 6.2 has no `lag` field)."""
    group = group_name(pod)
    async for shard, key, info in _groups(redis, shards):
        if info["name"] == group:
            behind = await redis.xrange(
                key, min=f"({info['last-delivered-id']}", max="+", count=cap
            )
            metrics.STREAM_LAG.labels(str(shard)).set(len(behind or []))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
