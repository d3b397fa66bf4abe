"""An api process opens TASKBOARD_DB_POOL_WARM connections, with its task create prepared,
before it serves anything (a probe included), so its first requests under load do not wait for
them; with 0 it opens them only as requests come."""

from __future__ import annotations

import secrets

import asyncpg  # type: ignore[import-untyped]
import pytest

from taskboard.api.warmup import warm_connections
from taskboard.core.config import Settings
from taskboard.core.runtime import close_resources, open_resources
from taskboard.embedded.processes import ManagedProcess, free_port, http_ok, taskboard_command
from tests.fixtures.services import ServiceUrls
from tests.realtime.cluster import base_env

WRITTEN = "SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM board_events)"


async def _connections_of(database_url: str, name: str) -> int:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name
        )
    finally:
        await conn.close()
    return count


@pytest.mark.parametrize("warm", [3, 0])
async def test_an_api_process_opens_its_warm_connections_before_it_is_ready(
    service_urls: ServiceUrls, warm: int
) -> None:
    name = f"api-warm-{secrets.token_hex(4)}"
    port = free_port()
    env = base_env(service_urls, TASKBOARD_SERVICE_NAME=name, TASKBOARD_DB_POOL_WARM=str(warm))
    api = ManagedProcess(
        taskboard_command("api", "--port", str(port)),
        name=name,
        env=env,
        # /healthz touches no database (/readyz would open connections of its own: several
        # at once when a slow start lets the prober's retries queue up) and, like every
        # route, answers only once the lifespan, warm-up included, is done.
        ready=http_ok(f"http://127.0.0.1:{port}/healthz"),
        ready_timeout=60,
        stop_timeout=30,
    ).start()
    try:
        api.wait_ready()
        # Pooled connections stay open once returned: what is open now the start-up opened.
        opened = await _connections_of(service_urls.database_url, name)
    finally:
        api.stop()
    assert opened == warm


async def test_the_warm_up_runs_the_create_on_each_connection_and_writes_nothing(
    settings: Settings, service_urls: ServiceUrls
) -> None:
    resources = open_resources(settings)
    url = service_urls.database_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(url)
    try:
        before = await conn.fetchval(WRITTEN)
        assert await warm_connections(resources, 3) == 3  # 0 would mean it failed and said why
        after = await conn.fetchval(WRITTEN)
        assert resources.engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    finally:
        await conn.close()
        await close_resources(resources)
    assert after == before
