"""FastAPI dependencies every domain's routes share: the process's resources and the unit of
work (one transaction per request, committed, then published, before the response is sent).

Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def` in a
worker thread, and the hand-off there and back (a thread wake-up and a loop wake-up) cost more
than most requests' own work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork
from taskboard.core.runtime import Resources, unit_of_work


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def resources_dependency(request: Request) -> Resources:
    return get_resources(request)


async def get_settings(request: Request) -> Settings:
    return get_resources(request).settings


async def get_redis(request: Request) -> Redis:
    return get_resources(request).redis


async def get_uow(request: Request) -> AsyncIterator[UnitOfWork]:
    async with unit_of_work(get_resources(request)) as uow:
        yield uow


Res = Annotated[Resources, Depends(resources_dependency)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
