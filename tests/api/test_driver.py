"""core.db.Driver: SQL sent on the asyncpg connection under a session runs in the session's own
transaction (so it commits and rolls back with the unit of work, BEGIN sent by SQLAlchemy's
adapter, or by SQLAlchemy running the first statement when the adapter cannot be asked), and a
constraint violation surfaces as SQLAlchemy's IntegrityError, as the api's handlers expect."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from taskboard.core.db import create_sessionmaker, driver

INSERT_USER = (
    "INSERT INTO users (id, email, email_key, display_name) VALUES ($1, $2, $2, 'Driver') "
    "RETURNING id"
)


@pytest.fixture
async def ids(engine: AsyncEngine) -> AsyncIterator[list[uuid.UUID]]:
    made: list[uuid.UUID] = []
    yield made
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE id = ANY(:ids)"), {"ids": made})


async def _existing(engine: AsyncEngine, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id FROM users WHERE id = ANY(:ids)"), {"ids": ids})
        return set(rows.scalars())


async def _insert_two(
    engine: AsyncEngine, ids: list[uuid.UUID], *, commit: bool, adapter_begins: bool
) -> None:
    ids += [uuid.uuid4(), uuid.uuid4()]
    async with create_sessionmaker(engine)() as session:
        on_driver = await driver(session)
        if not adapter_begins:  # as with a SQLAlchemy whose adapter has no _start_transaction
            on_driver.adapter = object()
        assert not on_driver.raw.is_in_transaction()
        first = await on_driver.fetchrow(INSERT_USER, ids[0], f"{ids[0]}@example.com")
        # SQLAlchemy began the transaction before the first statement...
        assert on_driver.raw.is_in_transaction()
        # ...that the next one, sent on the driver itself, joins.
        second = await on_driver.fetchrow(INSERT_USER, ids[1], f"{ids[1]}@example.com")
        assert first is not None
        assert second is not None
        assert [first[0], second[0]] == ids
        await (session.commit() if commit else session.rollback())


@pytest.mark.parametrize("adapter_begins", [True, False])
async def test_statements_on_the_driver_roll_back_with_the_session(
    engine: AsyncEngine, ids: list[uuid.UUID], adapter_begins: bool
) -> None:
    await _insert_two(engine, ids, commit=False, adapter_begins=adapter_begins)
    assert await _existing(engine, ids) == set()


@pytest.mark.parametrize("adapter_begins", [True, False])
async def test_statements_on_the_driver_commit_with_the_session(
    engine: AsyncEngine, ids: list[uuid.UUID], adapter_begins: bool
) -> None:
    await _insert_two(engine, ids, commit=True, adapter_begins=adapter_begins)
    assert await _existing(engine, ids) == set(ids)


async def test_a_constraint_violation_on_the_driver_is_an_integrity_error(
    engine: AsyncEngine, ids: list[uuid.UUID]
) -> None:
    ids.append(uuid.uuid4())
    async with create_sessionmaker(engine)() as session:
        on_driver = await driver(session)
        await on_driver.fetchrow(INSERT_USER, ids[0], f"{ids[0]}@example.com")
        with pytest.raises(IntegrityError, match="duplicate key"):
            await on_driver.fetchrow(INSERT_USER, ids[0], f"{ids[0]}@example.com")
        await session.rollback()
    assert await _existing(engine, ids) == set()


async def test_a_statement_alone_is_its_own_transaction_until_the_session_has_begun(
    engine: AsyncEngine, ids: list[uuid.UUID]
) -> None:
    ids += [uuid.uuid4(), uuid.uuid4()]
    async with create_sessionmaker(engine)() as session:
        on_driver = await driver(session)
        # No transaction yet: the statement commits by itself (no BEGIN, no COMMIT)...
        await on_driver.fetchrow(INSERT_USER, ids[0], f"{ids[0]}@example.com", alone=True)
        assert not on_driver.raw.is_in_transaction()
        assert await _existing(engine, ids) == {ids[0]}
        await session.rollback()  # ...and nothing is left for the session to end.
    assert await _existing(engine, ids) == {ids[0]}
    async with create_sessionmaker(engine)() as session:
        on_driver = await driver(session)
        await on_driver.fetchrow(INSERT_USER, ids[1], f"{ids[1]}@example.com")
        # Once the transaction has begun, a statement alone joins it.
        await on_driver.fetchrow("SELECT 1", alone=True)
        assert on_driver.raw.is_in_transaction()
        await session.rollback()
    assert await _existing(engine, ids) == {ids[0]}
