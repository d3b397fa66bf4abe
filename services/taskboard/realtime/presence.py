"""Who is viewing a board, shared by every pod through Redis, expiring when a pod goes away.

Each subscription is a sorted-set member `user_id|pod|connection` scored by its expiry time;
pods refresh their members every ttl/3 and announce changes on a pub/sub channel, which each
pod's listener turns into one coalesced `presence` frame per board."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskboard.core.lifecycle import pause
from taskboard.realtime.feeds import BoardFeed

log = logging.getLogger("taskboard.realtime")
CHANNEL = "tb:presence"
COALESCE_SECONDS = 0.2
# Every frame goes to every socket of the board on this pod: while viewers come and go (the
# reconnect storm after a pod left) a board of n sockets would cost n frames per interval. Its
# interval grows with n, so presence costs a pod at most this many frames a second per board
# up to n = MAX_PRESENCE_FRAMES_PER_SECOND * MAX_COALESCE_SECONDS, one frame per socket every
# MAX_COALESCE_SECONDS beyond.
MAX_PRESENCE_FRAMES_PER_SECOND = 500
MAX_COALESCE_SECONDS = 2.0


def coalesce_seconds(sockets: int) -> float:
    """How long a board with `sockets` subscribed on this pod gathers changes into one frame."""
    paced = sockets / MAX_PRESENCE_FRAMES_PER_SECOND
    return min(MAX_COALESCE_SECONDS, max(COALESCE_SECONDS, paced))


def key(board_id: uuid.UUID) -> str:
    return f"tb:presence:{board_id}"


def member(user_id: uuid.UUID, pod: str, connection_id: str) -> str:
    return f"{user_id}|{pod}|{connection_id}"


class Presence:
    def __init__(
        self,
        redis: Redis,
        pod: str,
        ttl_seconds: int,
        *,
        feed_of: Callable[[uuid.UUID], BoardFeed | None],
    ) -> None:
        self.redis = redis
        self.pod = pod
        self.ttl = ttl_seconds
        self._feed_of = feed_of
        self._jobs: set[asyncio.Task[None]] = set()

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

    # ---- the listener: announcements from every pod become frames on this pod's sockets ----

    async def listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while not stop.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None:
                            self._changed(uuid.UUID(message["data"].decode()))
            except (RedisError, OSError, ValueError) as exc:
                log.warning("presence listener failed", extra={"error": repr(exc)})
                await pause(stop, 1.0)

    def _changed(self, board_id: uuid.UUID) -> None:
        """Coalesce bursts (a thousand viewers arriving) into one broadcast per interval:
        otherwise n joins would cost n broadcasts to up to n sockets (see coalesce_seconds)."""
        feed = self._feed_of(board_id)
        if feed is None or feed.presence_scheduled:
            return
        feed.presence_scheduled = True
        asyncio.get_running_loop().call_later(
            coalesce_seconds(len(feed.subscriptions)),
            lambda: self._spawn(self._broadcast(board_id)),
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a short job, keeping a reference until it ends (asyncio holds only weak ones)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def _broadcast(self, board_id: uuid.UUID) -> None:
        feed = self._feed_of(board_id)
        if feed is None:
            return
        feed.presence_scheduled = False
        try:
            users = await self.users(board_id)
        except (RedisError, OSError):
            return
        if users != feed.presence:
            feed.send_presence(users)
