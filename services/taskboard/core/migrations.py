"""Alembic, driven from code: `taskboard migrate` and the readiness check use this."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from taskboard.core.config import asyncpg_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    cfg.set_main_option("sqlalchemy.url", asyncpg_url(database_url).replace("%", "%%"))
    return cfg


def upgrade_to_head(database_url: str) -> bool:
    """Migrate to this code's head; False (and nothing done) when the schema is already past
    it: a rollback to an older release, whose pre-upgrade migration must not fail on a
    revision it does not know (migrations within v1 only expand, so the old code runs on it)."""
    if schema_state(asyncio.run(_revision_at(database_url))) == "ahead":
        return False
    command.upgrade(alembic_config(database_url), "head")
    return True


async def _revision_at(database_url: str) -> str | None:
    engine = create_async_engine(asyncpg_url(database_url))
    try:
        async with engine.connect() as connection:
            return await current_revision(connection)
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head()


_HEAD = head_revision()


SchemaState = Literal["current", "ahead", "behind", "empty"]


def schema_state(revision: str | None) -> SchemaState:
    """Where the database's schema stands against this code's migrations.

    "ahead" is a revision this code does not know: a newer release migrated first (the upgrade's
    migration runs while the old pods still serve). Migrations only expand within a release
    (docs/operations.md, "Upgrades"), so the old code keeps working on it and stays ready.
    "behind" is a known revision short of head: this code needs columns that are not there yet.
    """
    if revision is None:
        return "empty"
    if revision == _HEAD:
        return "current"
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    try:
        script.get_revision(revision)
    except CommandError:  # "Can't locate revision"
        return "ahead"
    return "behind"


def usable_schema(revision: str | None) -> bool:
    return schema_state(revision) in ("current", "ahead")


async def wait_for_schema(
    database_url: str, *, on_wait: Callable[[str], None], interval: float = 2.0
) -> str:
    """Return (the revision found) once the database's schema is at or past this code's head:
    an init container's job, so no pod serves before the migration it needs has run. Until
    then `on_wait` hears why, each time the reason changes; the caller bounds the wait.
    Connection failures count as "not yet": the database may be starting too."""
    engine = create_async_engine(asyncpg_url(database_url), pool_pre_ping=True)
    reported = ""
    try:
        while True:
            try:
                async with engine.connect() as connection:
                    revision = await current_revision(connection)
                if usable_schema(revision):
                    return revision or ""
                state = schema_state(revision)
                reason = f"schema at {revision or 'nothing'} ({state}), need {_HEAD}"
            except (OSError, SQLAlchemyError) as exc:
                reason = f"database unreachable: {type(exc).__name__}"
            if reason != reported:
                on_wait(reason)
                reported = reason
            await asyncio.sleep(interval)
    finally:
        await engine.dispose()


async def current_revision(connection: AsyncConnection) -> str | None:
    def _current(sync_conn: object) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()  # type: ignore[arg-type]

    return await connection.run_sync(_current)


async def rotate_epochs(database_url: str) -> int:
    """Give every board a new epoch: run after restoring the database from a backup (or any
    rewrite of history), with the deployments stopped, so that every client holding seqs of
    the old history resyncs instead of trusting them. Returns how many boards."""
    engine = create_async_engine(asyncpg_url(database_url))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(
                text("UPDATE boards SET epoch = substr(md5(random()::text || id::text), 1, 12)")
            )
            return int(result.rowcount or 0)
    finally:
        await engine.dispose()


async def set_site_role(database_url: str, email_key: str, role: str) -> bool:
    """Make the account whose `email_key` (users.models.email_key) it is a site `admin` (or a
    `user` again); False: no such account.
    Sessions already open keep their old role until their access token is renewed."""
    engine = create_async_engine(asyncpg_url(database_url))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(
                text("UPDATE users SET site_role = :role WHERE email_key = :key"),
                {"role": role, "key": email_key},
            )
            return bool(result.rowcount)
    finally:
        await engine.dispose()
