"""What a serving process holds open: created by the app's lifespan, read by dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taskboard.core.config import Settings
from taskboard.core.security import PasswordHashing


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    hashing: PasswordHashing
    oidc: Any | None = None  # taskboard.auth.oidc.OidcVerifier when an issuer is trusted
