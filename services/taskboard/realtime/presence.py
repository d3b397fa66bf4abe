"""Who is viewing a board, shared by every pod through Redis, expiring when a pod goes away.

Each subscription is a sorted-set member `user_id|pod|connection` scored by its expiry time;
pods refresh their members every ttl/3 and announce changes on a pub/sub channel."""

from __future__ import annotations

import time
import uuid
from typing import Any

from redis.asyncio import Redis

CHANNEL = "tb:presence"


def key(board_id: uuid.UUID) -> str:
    return f"tb:presence:{board_id}"


def member(user_id: uuid.UUID, pod: str, connection_id: str) -> str:
    return f"{user_id}|{pod}|{connection_id}"


class Presence:
    def __init__(self, redis: Redis, pod: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.pod = pod
        self.ttl = ttl_seconds

    async def join(self, board_id: uuid.UUID, user_id: uuid.UUID, connection_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key(board_id), {member(user_id, self.pod, connection_id): self._expiry()})
            pipe.expire(key(board_id), self.ttl * 2)
            pipe.publish(CHANNEL, str(board_id))
            await pipe.execute()

    async def leave(self, board_id: uuid.UUID, user_id: uuid.UUID, connection_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(key(board_id), member(user_id, self.pod, connection_id))
            pipe.publish(CHANNEL, str(board_id))
            await pipe.execute()

    async def users(self, board_id: uuid.UUID) -> list[str]:
        members: list[Any] = await self.redis.zrangebyscore(key(board_id), time.time(), "+inf")
        return sorted({bytes(m).decode().split("|", 1)[0] for m in members})

    async def refresh(self, entries: list[tuple[uuid.UUID, uuid.UUID, str]]) -> set[uuid.UUID]:
        """Extend this pod's members and sweep expired ones (a dead pod's); returns the boards
        whose viewer set shrank."""
        boards = {board_id for board_id, _, _ in entries}
        if not boards:
            return set()
        expiry = self._expiry()
        async with self.redis.pipeline(transaction=False) as pipe:
            for board_id, user_id, connection_id in entries:
                pipe.zadd(key(board_id), {member(user_id, self.pod, connection_id): expiry})
            for board_id in boards:
                pipe.expire(key(board_id), self.ttl * 2)
            ordered = sorted(boards)
            for board_id in ordered:
                pipe.zremrangebyscore(key(board_id), "-inf", time.time())
            results = await pipe.execute()
        removed = results[-len(ordered) :]
        changed = {b for b, n in zip(ordered, removed, strict=True) if n}
        for board_id in changed:
            await self.redis.publish(CHANNEL, str(board_id))
        return changed

    def _expiry(self) -> float:
        return time.time() + self.ttl
