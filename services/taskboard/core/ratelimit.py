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


async def hit(redis: Redis, key: str, *, limit: int, window_seconds: int) -> None:
    """Count one attempt against `key`; raise TooManyRequests once the window's limit is passed."""
    count, ttl_ms = await redis.register_script(_HIT)(
        keys=[f"tb:rl:{key}"], args=[window_seconds * 1000]
    )
    if int(count) > limit:
        raise TooManyRequests(
            retry_after=(int(ttl_ms) + 999) // 1000,
            detail="Too many attempts; retry after the time in Retry-After",
        )
