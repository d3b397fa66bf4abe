from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from taskboard.api.app import create_app
from taskboard.core.config import Settings
from taskboard.core.db import create_engine, create_sessionmaker
from taskboard.core.runtime import Resources
from taskboard.core.security import PasswordHashing
from taskboard.models import Base
from tests.helpers import ApiClient

if TYPE_CHECKING:
    from tests.fixtures.services import ServiceUrls

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.s3"]

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def make_settings(urls: ServiceUrls, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": urls.database_url,
        "redis_url": urls.redis_url,
        "secret_key": TEST_SECRET,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 64,
        "cookie_secure": False,
        "rate_limit_auth_per_ip": 10_000,
        "rate_limit_auth_per_account": 10_000,
        "db_pool_size": 20,
        "db_max_overflow": 20,
        "metrics_port": 0,  # the app under test serves /metrics itself (no second server)
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(service_urls: ServiceUrls, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # Attachments go to a local directory of the session's.
    return make_settings(service_urls, storage_url=tmp_path_factory.mktemp("files").as_uri())


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def hashing(settings: Settings) -> PasswordHashing:
    return PasswordHashing(settings)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Each test runs inside a transaction that is rolled back: a clean state, for free."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
def resources(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    redis: Redis,
    hashing: PasswordHashing,
) -> Resources:
    sessionmaker = async_sessionmaker(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )
    return Resources(
        settings=settings, engine=engine, sessionmaker=sessionmaker, redis=redis, hashing=hashing
    )


async def _client(settings: Settings, resources: Resources) -> AsyncIterator[ApiClient]:
    app = create_app(settings, resources=resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield ApiClient(http)


@pytest.fixture
async def api(settings: Settings, resources: Resources) -> AsyncIterator[ApiClient]:
    async for client in _client(settings, resources):
        yield client


@pytest.fixture
async def committed_api(
    settings: Settings, engine: AsyncEngine, redis: Redis, hashing: PasswordHashing
) -> AsyncIterator[ApiClient]:
    """For tests that need real, concurrent commits; every table is emptied afterwards."""
    resources = Resources(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        redis=redis,
        hashing=hashing,
    )
    try:
        async for client in _client(settings, resources):
            yield client
    finally:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
