"""An api process opens some of its database connections before it serves.

Opening a pooled connection costs tens of milliseconds: TCP and authentication, SQLAlchemy's
asyncpg set-up, and on the first task create asyncpg's catalogue query for the statement's
types, the function's compilation and the backend's first reads of its tables. A process that
starts cold opens them as load arrives, and the requests queued behind each open one wait:
measured as a p99 of 140-240 ms over a new process's first seconds at 250-300 creates/s
(docs/benchmarks.md). So the lifespan opens TASKBOARD_DB_POOL_WARM connections concurrently
and runs the create once on each, for no board (tasks.repository.prepare_create). A database
that is not there yet (or behind on its migrations) must not stop the process from starting:
/readyz reports that; the warm-up then gives up, logs why, and the pool fills as requests
come.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import SQLAlchemyError

from taskboard.core import db
from taskboard.core.runtime import Resources
from taskboard.tasks import repository as tasks

log = logging.getLogger("taskboard.api")

TIMEOUT_SECONDS = 10.0


async def warm_connections(resources: Resources, count: int) -> int:
    """Open `count` pooled connections at once and run the hot write once on each (writing
    nothing); how many were warmed: 0 when the database could not be reached or lacks the
    function."""

    async def one() -> None:
        async with resources.sessionmaker() as session:
            await tasks.prepare_create(await db.driver(session))
            await session.rollback()

    if count <= 0:
        return 0
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await asyncio.gather(*(one() for _ in range(count)))
    except (TimeoutError, OSError, SQLAlchemyError, asyncpg.PostgresError) as exc:
        log.warning("database connections not warmed", extra={"error": repr(exc)})
        return 0
    return count


@asynccontextmanager
async def warmed_pool(app: Any, resources: Resources) -> AsyncIterator[None]:
    """The api's lifespan service: warm the pool, then serve."""
    settings = resources.settings
    # Never more than the pool keeps: the rest would wait for a connection nobody returns.
    await warm_connections(resources, min(settings.db_pool_warm, settings.db_pool_size))
    yield
