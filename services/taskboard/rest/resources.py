"""What a serving process holds open: created by the app's lifespan, read by dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taskboard.auth.oidc import OidcVerifier
from taskboard.core.config import Settings
from taskboard.core.db import create_engine, create_sessionmaker
from taskboard.core.redis import create_redis
from taskboard.core.security import PasswordHashing
from taskboard.core.telemetry import instrument_engine


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
