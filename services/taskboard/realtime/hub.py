"""The realtime pod: sockets, board feeds, stream consumers, presence and housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from taskboard.access import repository as access_repository
from taskboard.auth.authenticate import authenticate_token
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import TaskboardError
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources
from taskboard.core.security import decode_access_token
from taskboard.core.streams import StreamEvent
from taskboard.events import log as event_log
from taskboard.realtime import consumer, metrics, protocol
from taskboard.realtime.feeds import BoardFeed
from taskboard.realtime.presence import CHANNEL, Presence
from taskboard.realtime.subscriber import Connection, Subscription

log = logging.getLogger("taskboard.realtime")
PRESENCE_COALESCE_SECONDS = 0.2


class Hub:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.settings = resources.settings
        self.pod = self.settings.pod_name
        self.feeds: dict[uuid.UUID, BoardFeed] = {}
        self.connections: set[Connection] = set()
        self.presence = Presence(resources.redis, self.pod, self.settings.presence_ttl_seconds)
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self._jobs: set[asyncio.Task[None]] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        redis, stop = self.resources.redis, self.stop_event
        with contextlib.suppress(RedisError, OSError):  # housekeeping retries
            await consumer.heartbeat(
                redis, pod=self.pod, ttl_seconds=self.settings.consumer_group_idle_seconds
            )
        for shard in range(self.settings.stream_shards):
            self.tasks.append(
                asyncio.create_task(
                    consumer.consume(
                        redis, shard=shard, pod=self.pod, dispatch=self.dispatch, stop=stop
                    ),
                    name=f"consumer-{shard}",
                )
            )
        self.tasks.append(asyncio.create_task(self._presence_listener(), name="presence-listen"))
        self.tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))

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

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a short job, keeping a reference until it ends (asyncio holds only weak ones)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    def dispatch(self, event: StreamEvent) -> None:
        feed = self.feeds.get(event.board_id)
        if feed is not None:
            feed.offer(event)

    # ---- database reads (realtime never writes business data) --------------------------------

    async def _current_seq(self, board_id: uuid.UUID) -> int | None:
        async with self.resources.sessionmaker() as session:
            return await access_repository.current_seq(session, board_id)

    async def _read_events(self, board_id: uuid.UUID, after: int, upto: int) -> list[StreamEvent]:
        async with self.resources.sessionmaker() as session:
            rows = await event_log.list_between(
                session, board_id=board_id, after=after, upto=upto, limit=upto - after
            )
            return [StreamEvent.from_row(row) for row in rows]

    async def _role(self, board_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        async with self.resources.sessionmaker() as session:
            return await access_repository.role_of(session, board_id, user_id, lock=False)

    async def _authenticate(self, token: str) -> Principal | None:
        claims = decode_access_token(self.settings, token)
        if claims is not None:  # our own token: no database needed
            return Principal(user_id=claims.user_id, site_role=claims.site_role)
        if self.resources.oidc is None:
            return None
        async with self.resources.sessionmaker() as session:
            try:
                principal = await authenticate_token(token, UnitOfWork(session), self.resources)
                await session.commit()  # an OIDC login may have created the user
                return principal
            except TaskboardError:
                return None

    # ---- one socket ----------------------------------------------------------------------------

    async def handle(self, websocket: WebSocket) -> None:
        await websocket.accept()
        principal = await self._handshake(websocket)
        if principal is None:
            return
        connection = Connection(websocket, principal.user_id, self.settings.ws_send_queue_size)
        self.connections.add(connection)
        metrics.CONNECTIONS.inc()
        try:
            await connection.send_now(
                protocol.frame("authenticated", user_id=str(principal.user_id))
            )
            await self._receive(connection)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.connections.discard(connection)
            metrics.CONNECTIONS.dec()
            await connection.stop()
            for board_id in list(connection.subscriptions):
                await self._leave(connection, board_id)

    async def _handshake(self, websocket: WebSocket) -> Principal | None:
        """The access-token cookie, else an `auth` message within the timeout."""
        cookie = websocket.cookies.get(self.settings.access_cookie_name)
        if cookie:
            principal = await self._authenticate(cookie)
            if principal is not None:
                return principal
        try:
            raw = await asyncio.wait_for(
                websocket.receive_text(), timeout=self.settings.ws_auth_timeout_seconds
            )
        except TimeoutError:
            await websocket.close(protocol.CLOSE_AUTH_TIMEOUT, "authenticate within the timeout")
            return None
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return None
        try:
            message = protocol.parse(raw)
        except ValueError:
            await websocket.close(protocol.CLOSE_PROTOCOL_ERROR, "first message must be auth")
            return None
        if not isinstance(message, protocol.Auth):
            await websocket.close(protocol.CLOSE_PROTOCOL_ERROR, "first message must be auth")
            return None
        principal = await self._authenticate(message.token)
        if principal is None:
            await websocket.close(protocol.CLOSE_AUTH_FAILED, "invalid or expired token")
        return principal

    async def _receive(self, connection: Connection) -> None:
        websocket = connection.websocket
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None or len(raw) > self.settings.ws_max_message_bytes:
                connection.enqueue(
                    protocol.frame("error", code="bad_message", detail="send JSON text frames")
                )
                continue
            try:
                parsed = protocol.parse(raw)
            except (ValidationError, ValueError) as exc:
                detail = str(exc).splitlines()[0][:200]
                connection.enqueue(protocol.frame("error", code="bad_message", detail=detail))
                continue
            if isinstance(parsed, protocol.Subscribe):
                await self._subscribe(connection, parsed.board_id, parsed.since)
            elif isinstance(parsed, protocol.Unsubscribe):
                await self._leave(connection, parsed.board_id)
                connection.enqueue(
                    protocol.frame(
                        "unsubscribed", board_id=str(parsed.board_id), reason="requested"
                    )
                )
            elif isinstance(parsed, protocol.Ping):
                connection.enqueue(protocol.frame("pong", id=parsed.id))
            else:
                connection.enqueue(protocol.frame("error", code="already_authenticated"))

    async def _subscribe(
        self, connection: Connection, board_id: uuid.UUID, since: int | None
    ) -> None:
        if board_id in connection.subscriptions:
            await self._leave(connection, board_id)
        role = await self._role(board_id, connection.user_id)
        if role is None:
            # Same answer for a board that does not exist and one the caller cannot see.
            connection.enqueue(protocol.frame("error", code="not_found", board_id=str(board_id)))
            return
        feed = self.feeds.get(board_id)
        if feed is None:
            feed = BoardFeed(
                board_id,
                current_seq=self._current_seq,
                read_events=self._read_events,
                max_gap=self.settings.ws_max_replay,
            )
            self.feeds[board_id] = feed
            metrics.FEEDS.set(len(self.feeds))
        await feed.ready.wait()
        if feed.gone or connection.closing:
            connection.enqueue(protocol.frame("error", code="not_found", board_id=str(board_id)))
            await self._drop_feed_if_idle(board_id)
            return
        # From here to go_live the feed delivers into `pending`: nothing is lost or repeated.
        watermark = feed.last_seq
        floor = watermark if since is None or since <= watermark else since
        subscription = Subscription(connection, board_id, floor=floor)
        feed.add(subscription)
        connection.subscriptions[board_id] = subscription
        await connection.send_now(
            protocol.frame("subscribed", board_id=str(board_id), seq=watermark)
        )
        if since is not None and since < watermark:
            if watermark - since > self.settings.ws_max_replay:
                metrics.RESYNCS.inc()
                await connection.send_now(protocol.frame("resync", board_id=str(board_id)))
            else:
                for event in await self._read_events(board_id, since, watermark):
                    await connection.send_now(
                        protocol.event_frame(
                            event.board_id, event.seq, event.type, event.data, event.ts
                        )
                    )
        subscription.go_live()
        try:
            await self.presence.join(board_id, connection.user_id, connection.id)
            users = await self.presence.users(board_id)
        except (RedisError, OSError):
            return
        if feed.presence is None:
            feed.presence = users
        connection.enqueue(protocol.frame("presence", board_id=str(board_id), users=users))

    async def _leave(self, connection: Connection, board_id: uuid.UUID) -> None:
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

    # ---- background work ---------------------------------------------------------------------

    async def _presence_listener(self) -> None:
        while not self.stop_event.is_set():
            try:
                async with self.resources.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    while not self.stop_event.is_set():
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is None:
                            continue
                        await self._presence_changed(uuid.UUID(message["data"].decode()))
            except (RedisError, OSError, ValueError) as exc:
                log.warning("presence listener failed", extra={"error": repr(exc)})
                await pause(self.stop_event, 1.0)

    async def _presence_changed(self, board_id: uuid.UUID) -> None:
        """Coalesce bursts (a thousand viewers arriving) into one broadcast per interval:
        otherwise n joins would cost n broadcasts to up to n sockets."""
        feed = self.feeds.get(board_id)
        if feed is None or feed.presence_scheduled:
            return
        feed.presence_scheduled = True
        asyncio.get_running_loop().call_later(
            PRESENCE_COALESCE_SECONDS,
            lambda: self._spawn(self._broadcast_presence(board_id)),
        )

    async def _broadcast_presence(self, board_id: uuid.UUID) -> None:
        feed = self.feeds.get(board_id)
        if feed is None:
            return
        feed.presence_scheduled = False
        try:
            users = await self.presence.users(board_id)
        except (RedisError, OSError):
            return
        if users != feed.presence:
            feed.send_presence(users)

    async def _housekeeping(self) -> None:
        """Refresh presence, sample stream lag, and remove consumer groups of vanished pods."""
        redis, settings = self.resources.redis, self.settings
        interval = max(1.0, settings.presence_ttl_seconds / 3)
        ticks = 0
        while not self.stop_event.is_set():
            await pause(self.stop_event, interval)
            ticks += 1
            try:
                entries = [
                    (board_id, c.user_id, c.id)
                    for c in list(self.connections)
                    for board_id in c.subscriptions
                ]
                await consumer.heartbeat(
                    redis, pod=self.pod, ttl_seconds=settings.consumer_group_idle_seconds
                )
                await self.presence.refresh(entries)
                await consumer.sample_lag(redis, shards=settings.stream_shards, pod=self.pod)
                if ticks % 6 == 0:
                    await consumer.remove_abandoned_groups(
                        redis,
                        shards=settings.stream_shards,
                        pod=self.pod,
                        idle_ms=settings.consumer_group_idle_seconds * 1000,
                    )
            except (RedisError, OSError) as exc:
                log.warning("housekeeping failed", extra={"error": repr(exc)})
