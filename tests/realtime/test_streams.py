"""Stream housekeeping against real Redis: abandoned consumer groups, lag, the watermark."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from taskboard.core import streams as stream
from taskboard.core.config import Settings
from taskboard.realtime import consumer


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    """A database of its own: the package's realtime pods are live on database 0."""
    client = Redis.from_url(settings.redis_url.rsplit("/", 1)[0] + "/7")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_groups_of_vanished_pods_are_removed(redis: Redis) -> None:
    key = stream.stream_key(0)
    for pod in ("me", "gone", "busy", "quiet"):
        await consumer.ensure_group(redis, key, consumer.group_name(pod))
    await redis.xadd(key, {"e": "{}"})
    for pod in ("gone", "busy", "quiet"):  # each registers a consumer by reading
        await redis.xreadgroup(consumer.group_name(pod), pod, {key: ">"}, count=1)
    # "quiet" is alive but sees no traffic: its blocking reads return nothing, which on
    # Redis 6.2 does not reset its idle time; its heartbeat keeps its group.
    await consumer.heartbeat(redis, pod="quiet", ttl_seconds=60)
    await asyncio.sleep(0.3)
    await redis.xreadgroup(consumer.group_name("quiet"), "quiet", {key: ">"}, count=1, block=10)
    await redis.xadd(key, {"e": "{}"})
    await redis.xreadgroup(consumer.group_name("busy"), "busy", {key: ">"}, count=1)
    removed = await consumer.remove_abandoned_groups(redis, shards=1, pod="me", idle_ms=200)
    names = sorted(g["name"].decode() for g in await redis.xinfo_groups(key))
    assert removed == 1
    assert names == ["rt:busy", "rt:me", "rt:quiet"]


async def test_lag_counts_entries_the_pod_has_not_read(redis: Redis) -> None:
    key = stream.stream_key(1)
    await consumer.ensure_group(redis, key, consumer.group_name("lagging"))
    for _ in range(3):
        await redis.xadd(key, {"e": "{}"})
    await consumer.sample_lag(redis, shards=2, pod="lagging")
    lag = REGISTRY.get_sample_value("taskboard_ws_stream_lag_entries", {"shard": "1"})
    assert lag == 3
    await redis.xreadgroup(consumer.group_name("lagging"), "lagging", {key: ">"}, count=2)
    await consumer.sample_lag(redis, shards=2, pod="lagging")
    assert REGISTRY.get_sample_value("taskboard_ws_stream_lag_entries", {"shard": "1"}) == 1


async def test_publish_keeps_the_highest_seq_as_watermark(redis: Redis) -> None:
    board = uuid.uuid4()
    events = [
        stream.StreamEvent(board, seq, "task.created", {"n": seq}, None, "2026-01-01T00:00:00Z")
        for seq in (2, 3, 1)  # out of order, as concurrent commits publish
    ]
    await stream.publish(redis, events, shards=4, maxlen=1000)
    assert await stream.watermarks(redis, [board]) == {board: 3}
    entries = await redis.xrange(stream.stream_key(stream.shard_of(board, 4)))
    decoded = [stream.StreamEvent.decode(fields[b"e"]) for _, fields in entries]
    assert [e.seq for e in decoded] == [2, 3, 1]
    assert decoded[0] == events[0]
