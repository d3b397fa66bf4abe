"""A realtime pod's hub: its sockets, its board feeds, the stream consumers that feed them,
and the background work around them (presence listener, housekeeping)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import uuid

from redis.exceptions import RedisError

from taskboard.core.runtime import Resources
from taskboard.core.streams import StreamEvent
from taskboard.realtime import consumer, housekeeping, metrics, notices, protocol, revocations
from taskboard.realtime.feeds import BoardFeed
from taskboard.realtime.presence import Presence
from taskboard.realtime.reads import Reads
from taskboard.realtime.subscriber import Connection


class Hub:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.reads = Reads(resources)
        self.feeds: dict[uuid.UUID, BoardFeed] = {}
        self.connections: set[Connection] = set()
        self._per_user: collections.Counter[uuid.UUID] = collections.Counter()
        self.presence = Presence(
            resources.redis,
            self.settings.pod_name,
            self.settings.presence_ttl_seconds,
            feed_of=self.feeds.get,
        )
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        redis, settings, stop = self.resources.redis, self.settings, self.stop_event
        with contextlib.suppress(RedisError, OSError):  # housekeeping retries
            await consumer.heartbeat(
                redis, pod=settings.pod_name, ttl_seconds=settings.consumer_group_idle_seconds
            )
        for shard in range(settings.stream_shards):
            consume = consumer.consume(
                redis, shard=shard, pod=settings.pod_name, dispatch=self.dispatch, stop=stop
            )
            self.tasks.append(asyncio.create_task(consume, name=f"consumer-{shard}"))
        self.tasks.append(asyncio.create_task(self.presence.listen(stop), name="presence-listen"))
        self.tasks.append(
            asyncio.create_task(
                revocations.listen(redis, self.connections, stop), name="sessions-listen"
            )
        )
        self.tasks.append(
            asyncio.create_task(
                notices.listen(redis, self.connections, stop), name="notifications-listen"
            )
        )
        stalls = housekeeping.close_stalled(
            self.connections, settings.ws_send_timeout_seconds, stop
        )
        self.tasks.append(asyncio.create_task(stalls, name="stall-watchdog"))
        upkeep = housekeeping.run(redis, settings, self.presence, self.connections, stop)
        self.tasks.append(asyncio.create_task(upkeep, name="housekeeping"))

    async def stop(self) -> None:
        self.stop_event.set()
        for connection in list(self.connections):
            connection.kick(protocol.CLOSE_SERVICE_RESTART, "server restarting; reconnect")
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for feed in list(self.feeds.values()):
            await feed.close()

    def admit(self, connection: Connection) -> bool:
        """Register a socket, unless its user already holds TASKBOARD_WS_MAX_SOCKETS_PER_USER
        here (a count kept per user: scanning ten thousand sockets per connect was quadratic)."""
        if self._per_user[connection.user_id] >= self.settings.ws_max_sockets_per_user:
            return False
        self._per_user[connection.user_id] += 1
        self.connections.add(connection)
        return True

    def release(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.discard(connection)
            self._per_user[connection.user_id] -= 1
            if self._per_user[connection.user_id] <= 0:
                del self._per_user[connection.user_id]

    def dispatch(self, event: StreamEvent) -> None:
        feed = self.feeds.get(event.board_id)
        if feed is not None:
            feed.offer(event)

    async def subscribe(
        self,
        connection: Connection,
        board_id: uuid.UUID,
        since: int | None,
        epoch: str | None = None,
    ) -> None:
        if board_id in connection.subscriptions:
            await self.leave(connection, board_id)
        elif len(connection.subscriptions) >= self.settings.ws_max_subscriptions:
            connection.enqueue(
                protocol.frame(
                    "error",
                    code="too_many_subscriptions",
                    board_id=str(board_id),
                    limit=self.settings.ws_max_subscriptions,
                )
            )
            return
        # Checked before a feed is made for the board (join checks again, after registering):
        # nobody makes this pod follow boards they cannot see.
        if (
            board_id not in self.feeds
            and await self.reads.role(board_id, connection.user_id) is None
        ):
            connection.enqueue(protocol.frame("error", code="not_found", board_id=str(board_id)))
            return
        feed = self.feeds.get(board_id)  # looked up after the await: another may have made it
        if feed is None:
            # Registered before the feed reads its seq: no event committed after that read
            # can pass this pod by.
            feed = BoardFeed(
                board_id,
                history=self.reads.history,
                read_events=self.reads.events,
                max_gap=self.settings.ws_max_replay,
            )
            self.feeds[board_id] = feed
            metrics.FEEDS.set(len(self.feeds))
        await feed.ready.wait()
        if feed.gone or connection.closing:
            connection.enqueue(protocol.frame("error", code="not_found", board_id=str(board_id)))
            await self._drop_feed_if_idle(board_id)
            return

        # Same answer for a board that does not exist and one the caller cannot see.
        async def allowed() -> bool:
            return await self.reads.role(board_id, connection.user_id) is not None

        if await feed.join(connection, since, epoch, allowed=allowed) is None:
            connection.enqueue(protocol.frame("error", code="not_found", board_id=str(board_id)))
            await self._drop_feed_if_idle(board_id)
            return
        try:
            await self.presence.join(board_id, connection.user_id, connection.id)
            users = await self.presence.users(board_id)
        except (RedisError, OSError):
            return
        if feed.presence is None:
            feed.presence = users
        connection.enqueue(protocol.frame("presence", board_id=str(board_id), users=users))

    async def leave(self, connection: Connection, board_id: uuid.UUID) -> None:
        subscription = connection.subscriptions.pop(board_id, None)
        feed = self.feeds.get(board_id)
        if subscription is not None and feed is not None:
            feed.remove(subscription)
        with contextlib.suppress(RedisError, OSError):
            await self.presence.leave(board_id, connection.user_id, connection.id)
        await self._drop_feed_if_idle(board_id)

    async def _drop_feed_if_idle(self, board_id: uuid.UUID) -> None:
        feed = self.feeds.get(board_id)
        if feed is not None and not feed.subscriptions and feed.ready.is_set():
            del self.feeds[board_id]
            metrics.FEEDS.set(len(self.feeds))
            await feed.close()
