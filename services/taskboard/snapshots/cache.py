"""Board snapshots cached in Redis under (board_id, seq): every write bumps seq, so a stale
entry is never read and nothing needs invalidating. A reconnect storm reloads from here."""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("taskboard.snapshots")
BUILD_CLAIM_SECONDS = 10
BUILD_POLL_SECONDS = 0.02


class SnapshotCache:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    @staticmethod
    def key(board_id: uuid.UUID, epoch: str, seq: int) -> str:
        # The epoch too: after a restore, a seq may name another state than before.
        return f"tb:snapshot:{board_id}:{epoch}:{seq}"

    async def get(self, board_id: uuid.UUID, epoch: str, seq: int) -> bytes | None:
        try:
            value = await self.redis.get(self.key(board_id, epoch, seq))
        except (RedisError, OSError) as exc:
            log.warning("snapshot cache unavailable", extra={"error": repr(exc)})
            return None
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def put(self, board_id: uuid.UUID, epoch: str, seq: int, body: bytes) -> None:
        try:
            await self.redis.set(self.key(board_id, epoch, seq), body, ex=self.ttl)
        except (RedisError, OSError) as exc:
            log.warning("snapshot cache unavailable", extra={"error": repr(exc)})

    async def claim(self, board_id: uuid.UUID, epoch: str, seq: int) -> bool:
        """Whether this process should build (board, seq): the first to ask, across every
        process, for BUILD_CLAIM_SECONDS. True when Redis cannot say (build rather than wait)."""
        try:
            return bool(
                await self.redis.set(
                    f"{self.key(board_id, epoch, seq)}:building",
                    b"1",
                    nx=True,
                    ex=BUILD_CLAIM_SECONDS,
                )
            )
        except (RedisError, OSError):
            return True

    async def wait_for(self, board_id: uuid.UUID, epoch: str, seq: int) -> bytes | None:
        """The body another process is building, once cached; None if it does not come
        within BUILD_CLAIM_SECONDS (that builder died: build it yourself)."""
        deadline = asyncio.get_running_loop().time() + BUILD_CLAIM_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            body = await self.get(board_id, epoch, seq)
            if body is not None:
                return body
            await asyncio.sleep(BUILD_POLL_SECONDS)
        return None
