"""What a process holds open (engine, Redis, hashing, OIDC), the unit of work every writer
opens on it, and the lifespan that opens and closes it around a deployment's services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taskboard.core import heap, streams
from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork, create_engine, create_sessionmaker, transaction
from taskboard.core.oidc import OidcVerifier
from taskboard.core.redis import create_redis
from taskboard.core.security import PasswordHashing
from taskboard.core.telemetry import instrument_engine

log = logging.getLogger("taskboard.outbox")


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    hashing: PasswordHashing
    oidc: OidcVerifier | None = None  # set when an OpenID Connect issuer is trusted


def open_resources(settings: Settings) -> Resources:
    engine = create_engine(settings)
    instrument_engine(engine, settings)
    return Resources(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        redis=create_redis(settings),
        hashing=PasswordHashing(settings),
        oidc=OidcVerifier(settings) if settings.oidc_issuer else None,
    )


async def close_resources(resources: Resources) -> None:
    await resources.redis.aclose()
    await resources.engine.dispose()


@asynccontextmanager
async def unit_of_work(resources: Resources) -> AsyncIterator[UnitOfWork]:
    """One transaction; after it commits, its board events go to the streams.

    Every writer opens this (a request, an actor, a CLI command), so every writer publishes
    the same way. The relay is the safety net for a crash between commit and publish.
    """
    try:
        async with transaction(resources.sessionmaker) as uow:
            yield uow
    except BaseException as exc:
        if getattr(exc, "commits", False):  # an error whose writes stand (core.errors)
            await _committed(resources, uow)
        raise
    await _committed(resources, uow)


async def _committed(resources: Resources, uow: UnitOfWork) -> None:
    if uow.events and resources.settings.publish_fast_path:
        await publish_committed(resources, uow.events)
    for announce in uow.after_commit:
        await announce()


async def publish_committed(resources: Resources, events: Sequence[streams.LoggedEvent]) -> None:
    """The fast path of the outbox. If Redis cannot take the events the write still stands;
    the relay appends them within its interval."""
    settings = resources.settings
    try:
        await streams.publish(
            resources.redis,
            [streams.StreamEvent.from_row(e) for e in events],
            shards=settings.stream_shards,
            maxlen=settings.stream_maxlen,
        )
    except (RedisError, OSError) as exc:
        log.warning("stream append failed; the relay will deliver", extra={"error": repr(exc)})


class HasState(Protocol):
    """An ASGI application with a `state` namespace (FastAPI's, without importing it here)."""

    @property
    def state(self) -> Any: ...


Service = Callable[[Any, Resources], AbstractAsyncContextManager[Any]]
Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


def background(
    name: str, run: Callable[[Resources, asyncio.Event], Coroutine[Any, Any, None]]
) -> Service:
    """A service that runs `run(resources, stop)` as a task from start-up to shutdown, when
    `stop` is set and the task awaited (so it finishes what it is doing)."""

    @asynccontextmanager
    async def service(_app: Any, resources: Resources) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run(resources, stop), name=name)
        try:
            yield
        finally:
            stop.set()
            await task

    return service


def lifespan_for(
    settings: Settings, services: Sequence[Service] = (), resources: Resources | None = None
) -> Lifespan:
    """Resources given by the caller (tests) are used as they are; otherwise they are opened at
    start-up and closed at shutdown, with `services` (the realtime hub, the relay) running in
    between. Start-up's objects (modules, the app, its routes) are frozen first (core.heap)."""

    @asynccontextmanager
    async def lifespan(app: HasState) -> AsyncIterator[None]:
        if resources is not None:
            app.state.resources = resources
            yield
            return
        # Before the services start: what they open (pooled connections, sockets, tasks) may
        # die in a cycle later, and a frozen cycle is never freed.
        heap.settle()
        app.state.resources = opened = open_resources(settings)
        try:
            async with AsyncExitStack() as stack:
                for service in services:
                    await stack.enter_async_context(service(app, opened))
                yield
        finally:
            await close_resources(opened)

    return lifespan
