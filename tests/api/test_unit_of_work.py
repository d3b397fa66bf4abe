"""Writers that are not HTTP requests (a Dramatiq actor, a CLI command) open the same unit of
work, so their events reach the streams right after commit, with no relay running."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from taskboard.auth.principal import Principal
from taskboard.core import streams
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.tasks import service as tasks
from taskboard.tasks.schemas import TaskCreate
from tests.helpers import ApiClient


async def _stream_events(
    redis: Redis, board_id: uuid.UUID, shards: int
) -> list[streams.StreamEvent]:
    entries = await redis.xrange(streams.stream_key(streams.shard_of(board_id, shards)))
    decoded = [streams.StreamEvent.decode(fields[b"e"]) for _, fields in entries]
    return [e for e in decoded if e.board_id == board_id]


async def test_an_actor_style_writer_publishes_after_commit(
    api: ApiClient, resources: Resources, redis: Redis
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    board_id = uuid.UUID(board["id"])
    principal = Principal(user_id=uuid.UUID(owner.id), site_role="user")
    shards = resources.settings.stream_shards
    before = await _stream_events(redis, board_id, shards)

    async with unit_of_work(resources) as uow:
        created = await tasks.create(
            uow, principal, board_id, TaskCreate(title="from an actor"), quota=100
        )
        # Not yet committed: nothing may be on the stream.
        assert await _stream_events(redis, board_id, shards) == before

    published = (await _stream_events(redis, board_id, shards))[len(before) :]
    assert [(e.type, e.data["task"]["id"]) for e in published] == [
        ("task.created", str(created.id))
    ]
    assert published[0].seq == board["seq"] + 1
    assert await streams.watermarks(redis, [board_id]) == {board_id: published[0].seq}


async def test_a_rolled_back_unit_of_work_publishes_nothing(
    api: ApiClient, resources: Resources, redis: Redis
) -> None:
    owner = await api.user("owner")
    board_id = uuid.UUID((await api.board(owner))["id"])
    principal = Principal(user_id=uuid.UUID(owner.id), site_role="user")
    shards = resources.settings.stream_shards
    before = await _stream_events(redis, board_id, shards)

    async def failing_actor() -> None:
        async with unit_of_work(resources) as uow:
            await tasks.create(
                uow, principal, board_id, TaskCreate(title="never committed"), quota=100
            )
            raise RuntimeError("actor failed")

    with pytest.raises(RuntimeError, match="actor failed"):
        await failing_actor()

    assert await _stream_events(redis, board_id, shards) == before
