"""Board snapshots cached in Redis under (board_id, seq): every write bumps seq, so a stale
entry is never read and nothing needs invalidating. A reconnect storm reloads from here."""

from __future__ import annotations

import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("taskboard.snapshots")


class SnapshotCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    @staticmethod
    def key(board_id: uuid.UUID, seq: int) -> str:
        return f"tb:snapshot:{board_id}:{seq}"

    async def get(self, board_id: uuid.UUID, seq: int) -> bytes | None:
        try:
            value = await self.redis.get(self.key(board_id, seq))
        except (RedisError, OSError) as exc:
            log.warning("snapshot cache unavailable", extra={"error": repr(exc)})
            return None
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def put(self, board_id: uuid.UUID, seq: int, body: bytes) -> None:
        try:
            await self.redis.set(self.key(board_id, seq), body, ex=self.ttl)
        except (RedisError, OSError) as exc:
            log.warning("snapshot cache unavailable", extra={"error": repr(exc)})
