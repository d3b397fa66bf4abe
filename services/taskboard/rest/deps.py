"""FastAPI dependencies shared by every domain's routes: the unit of work and the caller."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskboard.auth.principal import Principal
from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork, unit_of_work
from taskboard.events import stream
from taskboard.rest.resources import Resources

log = logging.getLogger("taskboard.outbox")


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> Settings:
    return get_resources(request).settings


def get_redis(request: Request) -> Redis:
    return get_resources(request).redis


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    """One transaction per request, committed before the response is sent."""
    resources = get_resources(request)
    async with unit_of_work(resources.sessionmaker) as uow:
        yield uow
    if uow.events and resources.settings.publish_fast_path:
        await publish_committed(resources, uow)


async def publish_committed(resources: Resources, uow: UnitOfWork) -> None:
    """The fast path of the outbox: append the committed events to Redis now. If Redis cannot
    take them the request still succeeds; the relay appends them within its interval."""
    settings = resources.settings
    try:
        await stream.publish(
            resources.redis,
            [stream.StreamEvent.from_row(e) for e in uow.events],
            shards=settings.stream_shards,
            maxlen=settings.stream_maxlen,
        )
    except (RedisError, OSError) as exc:
        log.warning("stream append failed; the relay will deliver", extra={"error": repr(exc)})


Res = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]


async def get_principal(request: Request, uow: UoW) -> Principal:
    from taskboard.auth.authenticate import authenticate

    return await authenticate(request, uow, get_resources(request))


CurrentUser = Annotated[Principal, Depends(get_principal)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
