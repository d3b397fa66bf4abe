from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from taskboard.core.migrations import head_revision
from taskboard.models import Base
from tests.fixtures.services import ServiceUrls, fresh_database


async def test_migrations_build_exactly_the_models(engine: AsyncEngine) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        assert context.get_current_revision() == head_revision()
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


def test_every_constraint_and_index_is_named() -> None:
    for table in Base.metadata.sorted_tables:
        for item in [*table.constraints, *table.indexes]:
            assert item.name, f"unnamed {type(item).__name__} on {table.name}"


def _alembic(database_url: str, direction: str, revision: str) -> None:
    """Alembic in its own process (it runs its own event loop): `direction` (upgrade or
    downgrade) to `revision`."""
    script = (
        "import sys; from alembic import command; "
        "from taskboard.core.migrations import alembic_config; "
        f"command.{direction}(alembic_config(sys.argv[1]), sys.argv[2])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, database_url, revision],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _migrate_to(database_url: str, revision: str) -> None:
    _alembic(database_url, "upgrade", revision)


def _downgrade_to(database_url: str, revision: str) -> None:
    _alembic(database_url, "downgrade", revision)


@asynccontextmanager
async def _at_head(service_urls: ServiceUrls) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A fresh database migrated to head, its URL and a connection to it."""
    async with fresh_database(service_urls) as url:
        await asyncio.to_thread(_migrate_to, url, "head")
        conn = await asyncpg.connect(url)
        try:
            yield url, conn
        finally:
            await conn.close()


async def test_comment_counts_are_backfilled(service_urls: ServiceUrls) -> None:
    """Migration 0013 counts the live comments already on each task."""
    async with fresh_database(service_urls) as url:
        await asyncio.to_thread(_migrate_to, url, "0012")
        conn = await asyncpg.connect(url)
        try:
            user, board = uuid.uuid4(), uuid.uuid4()
            tasks = [uuid.uuid4() for _ in range(3)]
            await conn.execute(
                "INSERT INTO users (id, email, email_key, display_name) "
                "VALUES ($1, 'a@x', 'a@x', 'A')",
                user,
            )
            await conn.execute("INSERT INTO boards (id, name, epoch) VALUES ($1, 'B', 'e')", board)
            await conn.execute(
                "INSERT INTO board_columns (id, board_id, key, name, position) "
                "VALUES ($1, $2, 'todo', 'To do', 'a0')",
                uuid.uuid4(),
                board,
            )
            for i, task in enumerate(tasks):
                await conn.execute(
                    "INSERT INTO tasks (id, board_id, status, position, title) "
                    "VALUES ($1, $2, 'todo', $3, 'T')",
                    task,
                    board,
                    f"a{i}",
                )
            # Task 0: two live comments and a deleted one; task 1: only a deleted one.
            for task, deleted in [(0, False), (0, False), (0, True), (1, True)]:
                await conn.execute(
                    "INSERT INTO comments (id, board_id, task_id, author_id, body, deleted_at) "
                    "VALUES ($1, $2, $3, $4, 'c', CASE WHEN $5 THEN now() END)",
                    uuid.uuid4(),
                    board,
                    tasks[task],
                    user,
                    deleted,
                )
            await asyncio.to_thread(_migrate_to, url, "head")
            rows = await conn.fetch("SELECT id, comment_count, version FROM tasks")
            counts = {row["id"]: (row["comment_count"], row["version"]) for row in rows}
            assert counts == {tasks[0]: (2, 1), tasks[1]: (0, 1), tasks[2]: (0, 1)}
        finally:
            await conn.close()


async def test_the_create_functions_come_and_go_with_migration_0017(
    service_urls: ServiceUrls,
) -> None:
    """0017 only adds functions (older code runs on it), and its downgrade drops them all."""
    query = (
        "SELECT array_agg(proname::text ORDER BY proname) FROM pg_proc "
        "WHERE proname LIKE 'taskboard\\_%'"
    )
    async with _at_head(service_urls) as (url, conn):
        assert await conn.fetchval(query) == ["taskboard_create_task", "taskboard_key_after"]
        await asyncio.to_thread(_downgrade_to, url, "0016")
        assert await conn.fetchval(query) is None
        await asyncio.to_thread(_migrate_to, url, "head")
        assert await conn.fetchval("SELECT taskboard_key_after('az')") == "b00"


async def test_the_retention_purge_reads_removed_attachments_by_index(
    service_urls: ServiceUrls,
) -> None:
    """0018's partial index serves the purge's lookup (oldest removals first, rows locked with
    SKIP LOCKED), and its downgrade drops it."""
    purge = (
        "EXPLAIN SELECT id FROM attachments WHERE deleted_at < now() "
        "ORDER BY deleted_at LIMIT 100 FOR UPDATE SKIP LOCKED"
    )
    async with _at_head(service_urls) as (url, conn):
        # An empty table is cheapest to read whole: ask for the plan without that choice.
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in await conn.fetch(purge))
        assert "ix_attachments_deleted_at" in plan, plan
        await asyncio.to_thread(_downgrade_to, url, "0017")
        plan = "\n".join(row[0] for row in await conn.fetch(purge))
        assert "ix_attachments_deleted_at" not in plan, plan
