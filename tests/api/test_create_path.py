"""The create path reads the column tail with the board lock when nobody wrote in between, and
again under the lock when someone did (taskboard_create_task, migration 0017; and
tasks.repository.lock_for_create on the path it falls back to): a create that waited for
another writer still lands after that writer's task."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskboard.auth.principal import Principal
from taskboard.core.config import Settings
from taskboard.core.db import create_sessionmaker
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.core.security import PasswordHashing
from taskboard.tasks import service as tasks
from taskboard.tasks.schemas import TaskCreate
from tests.helpers import ApiClient

API = "/api/v1"


async def _wait_until_blocked_by(engine: AsyncEngine, writer_pid: int) -> None:
    """Until another backend waits for a lock `writer_pid` holds (the second create queued
    for the board lock). By the lock graph, not by query text: a statement asyncpg is still
    preparing shows the previous one in pg_stat_activity."""
    deadline = time.monotonic() + 30
    async with engine.connect() as conn:
        while time.monotonic() < deadline:
            blocked = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE CAST(:pid AS integer) = ANY(pg_blocking_pids(pid))"
                ),
                {"pid": writer_pid},
            )
            if blocked:
                return
            # pg_stat_activity is read once per transaction (stats_fetch_consistency): end it,
            # or a backend that connected after the first look is never seen.
            await conn.rollback()
            await asyncio.sleep(0.02)
    raise AssertionError("the second create never waited for the board lock")


@pytest.mark.committed
async def test_a_create_that_waited_for_the_lock_lands_after_the_writer_it_waited_for(
    committed_api: ApiClient,
    settings: Settings,
    engine: AsyncEngine,
    redis: Redis,
    hashing: PasswordHashing,
) -> None:
    api = committed_api
    owner = await api.user("owner")
    board = await api.board(owner)
    for i in range(3):
        await api.task(board["id"], owner, title=f"before {i}")
    resources = Resources(settings, engine, create_sessionmaker(engine), redis, hashing)
    principal = Principal(user_id=uuid.UUID(owner.id), site_role="user")
    async with unit_of_work(resources) as uow:
        # This writer holds the board's lock until the block ends...
        first = await tasks.create(
            uow, principal, uuid.UUID(board["id"]), TaskCreate(title="first"), quota=100
        )
        writer_pid = int((await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        # ...while another starts, reads the tail from its snapshot, and queues for the lock.
        second = asyncio.create_task(
            api.request(
                "POST", f"{API}/boards/{board['id']}/tasks", json={"title": "second"},
                headers=owner.headers,
            )
        )  # fmt: skip
        await _wait_until_blocked_by(engine, writer_pid)
    created = await second
    assert created.status_code == 201, created.text
    # Its snapshot had no "first": it read the tail again once the lock was its own.
    # The second create ran taskboard_create_task as its own transaction (no Idempotency-Key):
    # the function's statement after the lock took a fresh snapshot, which has "first".
    assert created.json()["position"] > first.position
    snapshot = await api.request("GET", f"{API}/boards/{board['id']}", headers=owner.headers)
    titles = [t["title"] for t in sorted(snapshot.json()["tasks"], key=lambda t: t["position"])]
    assert titles == ["before 0", "before 1", "before 2", "first", "second"]
