"""Fixed-window rate limits kept in Redis, shared by every pod."""

from __future__ import annotations

from redis.asyncio import Redis

from taskboard.core.errors import TooManyRequests

# INCR and set the window's expiry atomically; return the count and the window's remaining ms.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


def _too_many(ttl_ms: int) -> TooManyRequests:
    return TooManyRequests(
        retry_after=(max(ttl_ms, 0) + 999) // 1000,
        detail="Too many attempts; retry after the time in Retry-After",
    )


async def count(redis: Redis, key: str, *, window_seconds: int) -> int:
    """Count one event against `key` in the current window; the window's count so far."""
    counted, _ = await redis.register_script(_HIT)(
        keys=[f"tb:rl:{key}"], args=[window_seconds * 1000]
    )
    return int(counted)


async def hit(redis: Redis, key: str, *, limit: int, window_seconds: int) -> None:
    """Count one attempt against `key`; raise TooManyRequests once the window's limit is passed."""
    counted, ttl_ms = await redis.register_script(_HIT)(
        keys=[f"tb:rl:{key}"], args=[window_seconds * 1000]
    )
    if int(counted) > limit:
        raise _too_many(int(ttl_ms))


async def check(redis: Redis, key: str, *, limit: int) -> None:
    """Raise TooManyRequests when `key` already reached `limit` this window (counts nothing)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(f"tb:rl:{key}")
        pipe.pttl(f"tb:rl:{key}")
        counted, ttl_ms = await pipe.execute()
    if counted is not None and int(counted) >= limit:
        raise _too_many(int(ttl_ms))
