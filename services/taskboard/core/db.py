"""SQLAlchemy base, engine factory, the unit of work that spans one request or job, and the
driver connection under it for the hottest statements."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import ColumnElement, DateTime, MetaData, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from taskboard.core.config import Settings
from taskboard.core.telemetry import sql_span

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


async def delete_batch(
    session: AsyncSession, model: type[UUIDPrimaryKey], *where: ColumnElement[bool], limit: int
) -> int:
    """Delete up to `limit` rows of `model` matching `where`; how many went. The retention
    passes delete a batch at a time, so none holds its row locks for long."""
    batch = select(model.id).where(*where).limit(limit)
    result = await session.execute(delete(model).where(model.id.in_(batch)))
    return int(result.rowcount)  # type: ignore[attr-defined]


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.async_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        # Off by default: on asyncpg a ping is BEGIN + ROLLBACK, two round trips per request.
        # A connection that died with its server fails one request and the pool is recycled.
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "application_name": settings.service_name,
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "timezone": "UTC",
            }
        },
    )


def create_sessionmaker(bind: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)


@dataclass(eq=False)
class UnitOfWork:
    """One transaction plus what must happen only after it commits.

    Services add rows and `flush()`; whoever opened the unit of work commits. `events` are the
    board events written in this transaction, published to the streams after commit;
    `after_commit` are other announcements of what committed (ended sessions), run then too.
    """

    session: AsyncSession
    events: list[Any] = field(default_factory=list)
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
    """The transaction alone; writers open `core.runtime.unit_of_work`, which also publishes."""
    async with sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
            await session.commit()
        except BaseException as exc:
            # Roll back, unless the error asks for its writes to stay (TaskboardError.commits).
            if getattr(exc, "commits", False):
                await session.commit()
            else:
                await session.rollback()
            raise


@dataclass
class Driver:
    """The asyncpg connection under a session's transaction, for statements written as SQL.

    SQLAlchemy costs about 0.1-0.2 ms of CPU per statement on top of asyncpg (building and
    compiling the statement, its cache key, the greenlet hops, the cursor and result layers):
    several times PostgreSQL's own work on a hot write. Constant SQL sent on the driver skips
    all of it (asyncpg prepares each text once per connection), still in the same transaction,
    committed or rolled back with the unit of work.

    SQLAlchemy's asyncpg dialect begins its transaction lazily, just before the first
    statement it runs (`_start_transaction` on its connection adapter, which the session's
    commit and rollback then end). `fetchrow` asks the adapter to do exactly that before the
    first statement sent here; an adapter without that method (another SQLAlchemy release)
    gets the first statement through SQLAlchemy itself (`exec_driver_sql`, the same text,
    about 0.25 ms more). Either way no statement runs outside the transaction the session
    commits (tests/api/test_driver.py), unless the caller asks for a statement `alone` (see
    `fetchrow`). Statements sent on the driver get a span of their own
    when traces are exported, as SQLAlchemy's get theirs, and constraint violations surface as
    SQLAlchemy's IntegrityError, which the api's handlers know.
    """

    connection: AsyncConnection
    raw: asyncpg.Connection
    adapter: Any  # SQLAlchemy's AsyncAdapt_asyncpg_connection around `raw`
    database: str

    async def fetchrow(self, sql: str, *args: Any, alone: bool = False) -> Sequence[Any] | None:
        """One row of `sql`, in the session's transaction. `alone`: when the session has not
        begun its transaction yet, run the statement as its own transaction (PostgreSQL's
        implicit one: no BEGIN and COMMIT round trips), for a unit of work whose only
        statement this is; the session's commit or rollback then has nothing to end."""
        if not alone and not self.raw.is_in_transaction():
            begin = getattr(self.adapter, "_start_transaction", None)
            if begin is not None and getattr(self.adapter, "_transaction", True) is None:
                await begin()
            if not self.raw.is_in_transaction():
                return (await self.connection.exec_driver_sql(sql, args)).first()
        with sql_span(sql, self.database):
            try:
                record: Sequence[Any] | None = await self.raw.fetchrow(sql, *args)
            except asyncpg.IntegrityConstraintViolationError as exc:
                raise IntegrityError(sql, args, exc) from exc
        return record


async def driver(session: AsyncSession) -> Driver:
    """The driver connection under `session`'s transaction (see Driver)."""
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    raw = pooled.driver_connection
    assert isinstance(raw, asyncpg.Connection)
    return Driver(connection, raw, pooled.dbapi_connection, connection.engine.url.database or "")
