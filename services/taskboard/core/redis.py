"""The Redis client factory: one pooled client per process, created by the app's lifespan."""

from __future__ import annotations

from redis.asyncio import Redis

from taskboard.core.config import Settings


def create_redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=5,
        retry_on_timeout=True,
    )
