"""taskboard_create_task and taskboard_key_after (migration 0017), the task create in one
round trip: the key is fractional_indexing's, every refusal is the error the statements of
old raised, the rare create the function leaves to Python still lands, and a create with
nothing else in its unit of work is its own transaction."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fractional_indexing import BASE_62_DIGITS, generate_key_between
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskboard.auth.principal import Principal
from taskboard.core import db
from taskboard.core.config import Settings
from taskboard.core.errors import TaskboardError
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.core.security import PasswordHashing
from taskboard.tasks import service as tasks
from taskboard.tasks.schemas import TaskCreate
from tests.helpers import ApiClient

API = "/api/v1"
LARGEST = "z" * 27  # the largest integer part: the library needs midpoint() after it


def _python_key_after(key: str | None) -> str | None:
    """What the SQL function must answer: the library's key, or NULL where it raises or needs
    midpoint() (the caller then falls back to Python)."""
    if key is not None and key[:27] == LARGEST:
        return None
    try:
        return str(generate_key_between(key, None))
    except Exception:
        return None


def _keys() -> list[str | None]:
    rng = random.Random(14)
    keys: list[str | None] = [None]
    key: str | None = None
    for _ in range(4000):  # a0 .. az, b00 .. b0z, b10, ...: every carry of the first keys
        key = generate_key_between(key, None)
        keys.append(key)
    heads = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for _ in range(4000):
        head = rng.choice(heads)
        n = ord(head) - ord("a") + 2 if head.islower() else ord("Z") - ord(head) + 2
        # Mostly high digits, so that carries (over one digit, several, all) are common.
        digits = "".join(rng.choice("xyzzzz" if rng.random() < 0.7 else BASE_62_DIGITS)
                         for _ in range(n - 1))  # fmt: skip
        fraction = "".join(rng.choice(BASE_62_DIGITS) for _ in range(rng.randrange(4)))
        if fraction.endswith("0"):
            fraction += "1"
        keys.append(head + digits + fraction)
    for head in heads:  # each head with its integer at the maximum: the head moves on
        n = ord(head) - ord("a") + 2 if head.islower() else ord("Z") - ord(head) + 2
        keys += [head + "z" * (n - 1), head + "z" * (n - 1) + "V", head + "0" * (n - 1) + "1"]
    keys += [
        "a9", "az", "aZ", "Zz", "Zzz", "Yzz", "A" + "z" * 26, "A" + "0" * 25 + "1", LARGEST,
        LARGEST + "V",
        # Not keys: the library raises, SQL answers NULL.
        "", "a", "a10", "A" + "0" * 26, "-", "a-", "1a", "b0-", "az0", "é0",
    ]  # fmt: skip
    return keys


async def test_key_after_is_the_librarys_key_after(engine: AsyncEngine) -> None:
    keys = _keys()
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT k, taskboard_key_after(k) FROM unnest(CAST(:keys AS text[])) k"),
            {"keys": keys},
        )
        got = {row[0]: row[1] for row in rows}
    assert len(keys) > 8000
    wrong = {k: (got[k], _python_key_after(k)) for k in keys if got[k] != _python_key_after(k)}
    assert wrong == {}
    # The carries the brief names, spelled out.
    assert [got[k] for k in ("a9", "az", "Zz", "b0z", None)] == ["aA", "b00", "a0", "b10", "a0"]


# Refusals: the one-trip create raises what the statements of old raise, for every check.


async def _refusal(call: Callable[[], Awaitable[Any]]) -> tuple[Any, ...] | None:
    try:
        await call()
    except TaskboardError as exc:
        return (type(exc), exc.detail, exc.fields, exc.extra)
    return None


async def _both(
    resources: Resources, user_id: str, board_id: str, body: dict[str, Any], *, quota: int = 100
) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]:
    principal = Principal(user_id=uuid.UUID(user_id), site_role="user")
    data = TaskCreate.model_validate(body)
    board = uuid.UUID(board_id)

    async def one_trip() -> None:
        async with unit_of_work(resources) as uow:
            await tasks.create(uow, principal, board, data, quota=quota, alone=True)

    async def in_steps() -> None:
        async with unit_of_work(resources) as uow:
            driver = await db.driver(uow.session)
            await tasks._create_in_steps(uow, driver, principal, board, data, quota=quota)

    return await _refusal(one_trip), await _refusal(in_steps)


async def test_every_refusal_is_the_error_of_old(
    api: ApiClient, resources: Resources, connection: AsyncConnection
) -> None:
    owner, viewer, stranger, mate = [await api.user(n) for n in ("o", "v", "s", "m")]
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, viewer, "viewer")
    await api.task(b, owner, title="first")
    other = await api.board(owner, "Other")
    label = (
        await api.request(
            "POST", f"{API}/boards/{other['id']}/labels", json={"name": "Bug"},
            headers=owner.headers,
        )
    ).json()  # fmt: skip
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("stranger", stranger.id, {"title": "t"}, 100, "BoardNotFound"),
        ("viewer", viewer.id, {"title": "t"}, 100, "RoleRequired"),
        ("quota", owner.id, {"title": "t"}, 1, "QuotaExceeded"),
        ("no such column", owner.id, {"title": "t", "status": "nope"}, 100, "ColumnNotFound"),
        (
            "assignees",
            owner.id,
            {"title": "t", "assignee_ids": [mate.id, owner.id, mate.id, stranger.id]},
            100,
            "ValidationFailed",
        ),
        ("labels", owner.id, {"title": "t", "labels": [label["id"]]}, 100, "ValidationFailed"),
    ]
    for name, user, body, quota, error in cases:
        new, old = await _both(resources, user, b, body, quota=quota)
        assert new is not None, name
        assert new == old, name
        assert new[0].__name__ == error, (name, new)
    # The WIP limit, counted under the lock.
    await connection.execute(
        text("UPDATE board_columns SET wip_limit = 1 WHERE board_id = :b AND key = 'todo'"),
        {"b": b},
    )
    new, old = await _both(resources, owner.id, b, {"title": "t"})
    assert new == old
    assert new is not None
    assert new[0].__name__ == "WipLimitExceeded"
    # A board with no columns.
    await connection.execute(text("DELETE FROM tasks WHERE board_id = :b"), {"b": b})
    await connection.execute(text("DELETE FROM board_columns WHERE board_id = :b"), {"b": b})
    new, old = await _both(resources, owner.id, b, {"title": "t"})
    assert new == old
    assert new is not None
    assert new[0].__name__ == "ValidationFailed"
    # Archived.
    archived = await api.request(
        "PATCH", f"{API}/boards/{other['id']}", json={"archived": True}, headers=owner.headers
    )
    assert archived.status_code == 200, archived.text
    new, old = await _both(resources, owner.id, other["id"], {"title": "t"})
    assert new == old
    assert new is not None
    assert new[0].__name__ == "BoardArchived"
    # None of them wrote anything.
    seq = await connection.scalar(
        text("SELECT count(*) FROM board_events WHERE board_id = :b AND type = 'task.created'"),
        {"b": b},
    )
    assert seq == 1


async def test_a_create_after_the_largest_key_is_left_to_python(
    api: ApiClient, connection: AsyncConnection
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    first = await api.task(board["id"], owner, title="first")
    await connection.execute(
        text("UPDATE tasks SET position = :p WHERE id = :id"), {"p": LARGEST, "id": first["id"]}
    )
    created = await api.task(board["id"], owner, title="second")
    assert created["position"] == generate_key_between(LARGEST, None)
    assert created["position"] > LARGEST
    events = await api.request("GET", f"{API}/boards/{board['id']}/events", headers=owner.headers)
    assert events.status_code == 200, events.text
    items = events.json()["items"]
    assert [e["seq"] for e in items] == list(range(1, len(items) + 1))  # no gap
    assert items[-1]["type"] == "task.created"
    assert items[-1]["data"]["task"] == created


@pytest.mark.committed
async def test_a_create_alone_commits_without_a_transaction_of_its_own(
    committed_api: ApiClient,
    settings: Settings,
    engine: AsyncEngine,
    redis: Redis,
    hashing: PasswordHashing,
) -> None:
    owner = await committed_api.user("owner")
    board = await committed_api.board(owner)
    resources = Resources(settings, engine, db.create_sessionmaker(engine), redis, hashing)
    principal = Principal(user_id=uuid.UUID(owner.id), site_role="user")
    board_id = uuid.UUID(board["id"])

    async def visible(task_id: uuid.UUID) -> bool:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT count(*) FROM tasks WHERE id = :id"), {"id": task_id}
            )
        return bool(found)

    async with unit_of_work(resources) as uow:
        alone = await tasks.create(
            uow, principal, board_id, TaskCreate(title="alone"), quota=100, alone=True
        )
        raw = (await db.driver(uow.session)).raw
        assert not raw.is_in_transaction()
        assert await visible(alone.id)  # committed already: it was its own transaction
        assert [e.type for e in uow.events] == ["task.created"]  # published after the unit of work
    async with unit_of_work(resources) as uow:
        await uow.session.execute(text("SELECT 1"))  # the unit of work has begun: join it
        joined = await tasks.create(
            uow, principal, board_id, TaskCreate(title="joined"), quota=100, alone=True
        )
        assert not await visible(joined.id)
    assert await visible(joined.id)
    assert joined.position > alone.position
