"""A board's feed on this pod: puts the board's stream events in gap-free seq order (filling
holes from the event log) and fans each one out to the local subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from taskboard.core.streams import StreamEvent
from taskboard.realtime import metrics, protocol
from taskboard.realtime.subscriber import Connection, Subscription
from taskboard.realtime.wire import Outgoing

log = logging.getLogger("taskboard.realtime")

ReadEvents = Callable[[uuid.UUID, int, int], Awaitable[list[StreamEvent]]]
History = Callable[[uuid.UUID], Awaitable[tuple[int, str] | None]]
Allowed = Callable[[], Awaitable[bool]]

INBOX_SIZE = 50_000
REPLAY_PAGE = 200


def _epoch(ts: str) -> float | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class BoardFeed:
    def __init__(
        self,
        board_id: uuid.UUID,
        *,
        history: History,
        read_events: ReadEvents,
        max_gap: int,
    ) -> None:
        self.board_id = board_id
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.subscriptions: dict[str, Subscription] = {}
        self.presence: list[str] | None = None
        self.presence_scheduled = False
        self.inbox: asyncio.Queue[StreamEvent] = asyncio.Queue(maxsize=INBOX_SIZE)
        self._history = history
        self.epoch = ""
        self._read_events = read_events
        self._max_gap = max_gap
        self.gone = False
        self.task = asyncio.create_task(self._run(), name=f"feed-{board_id}")

    def offer(self, event: StreamEvent) -> None:
        try:
            self.inbox.put_nowait(event)
        except asyncio.QueueFull:
            # This pod cannot keep up with the board; the log still has everything.
            log.warning("feed inbox overflowed", extra={"board_id": str(self.board_id)})
            self._resync_all()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        # Registered in the hub before this read: any event committed after it reaches the inbox.
        current = await self._history(self.board_id)
        if current is None:
            self.gone = True
            self.ready.set()
            return
        self.last_seq, self.epoch = current
        self.ready.set()
        while True:
            event = await self.inbox.get()
            try:
                await self._handle(event)
            except Exception:
                log.exception("feed failed on an event", extra={"board_id": str(self.board_id)})
                self._resync_all()
                self.last_seq = max(self.last_seq, event.seq)

    async def _handle(self, event: StreamEvent) -> None:
        if event.seq <= self.last_seq:
            metrics.DUPLICATES.inc()
            return
        if event.type == "board.deleted":
            self.last_seq = event.seq
            self.end_all("board_deleted")
            self.gone = True
            return
        if event.seq > self.last_seq + 1:
            missing = event.seq - 1 - self.last_seq
            if missing > self._max_gap:
                self._resync_all()
            else:
                for filled in await self._read_events(self.board_id, self.last_seq, event.seq - 1):
                    metrics.GAP_FILLED.inc()
                    self._deliver(filled)
                if self.last_seq < event.seq - 1:
                    self._resync_all()
            self.last_seq = max(self.last_seq, event.seq - 1)
        self._deliver(event)

    def _deliver(self, event: StreamEvent) -> None:
        self.last_seq = event.seq
        if event.type == "member.removed":
            removed = str(event.data.get("user_id"))
            for sub in list(self.subscriptions.values()):
                if str(sub.connection.user_id) == removed:
                    self.end(sub, "removed")
        if not self.subscriptions:
            return
        # One frame object for every socket: rendered and encoded once, counted once.
        item = Outgoing(
            protocol.event_frame(event.board_id, event.seq, event.type, event.data, event.ts),
            _epoch(event.ts),
        )
        seq, written = event.seq, 0
        for sub in list(self.subscriptions.values()):
            if sub.offer(seq, item):
                written += 1
        metrics.FANNED_OUT.inc(len(self.subscriptions))
        metrics.frames_written(written, item.ts)

    async def join(
        self,
        connection: Connection,
        since: int | None,
        epoch: str | None = None,
        *,
        allowed: Allowed,
    ) -> Subscription | None:
        """Subscribe a socket. It gets `subscribed` with the feed's seq, then the events it
        missed after `since` (or `resync` when they are too many, or when `since` is ahead of
        the board or counts in another epoch: the history the client holds is not this one),
        then whatever arrived
        meanwhile, then live frames: in seq order, none lost, none twice.

        `allowed` (may the caller see the board?) is asked after the subscription is
        registered: a removal committed after that answer reaches it as `member.removed` and
        ends it; one committed before is in the answer. None: not allowed."""
        # From here to go_live the feed delivers into the subscription's `pending`.
        watermark = self.last_seq
        subscription = Subscription(connection, self.board_id, floor=watermark)
        self.add(subscription)
        connection.subscriptions[self.board_id] = subscription
        if not await allowed():
            self.remove(subscription)
            return None
        board = str(self.board_id)
        await connection.send_now(
            protocol.frame("subscribed", board_id=board, seq=watermark, epoch=self.epoch)
        )
        if since is not None and (since > watermark or (epoch and epoch != self.epoch)):
            metrics.RESYNCS.inc()
            await connection.send_now(protocol.frame("resync", board_id=board))
        elif since is not None and since < watermark:
            if watermark - since > self._max_gap:
                metrics.RESYNCS.inc()
                await connection.send_now(protocol.frame("resync", board_id=board))
            else:
                await self._replay(connection, since, watermark)
        subscription.go_live()
        return subscription

    async def _replay(self, connection: Connection, since: int, upto: int) -> None:
        """(since, upto] from the log, a page at a time: memory stays bounded by a page
        however far back the client asks (up to the replay limit)."""
        after = since
        while after < upto and not connection.closing:
            page = await self._read_events(self.board_id, after, min(upto, after + REPLAY_PAGE))
            if not page:
                return
            for event in page:
                await connection.send_now(
                    protocol.event_frame(
                        event.board_id, event.seq, event.type, event.data, event.ts
                    )
                )
            after = page[-1].seq

    def add(self, sub: Subscription) -> None:
        self.subscriptions[sub.connection.id] = sub
        metrics.SUBSCRIPTIONS.inc()

    def remove(self, sub: Subscription) -> None:
        if self.subscriptions.pop(sub.connection.id, None) is not None:
            metrics.SUBSCRIPTIONS.dec()
        sub.connection.subscriptions.pop(self.board_id, None)

    def end(self, sub: Subscription, reason: str) -> None:
        """Stop a subscription from the server side and tell the client why."""
        self.remove(sub)
        sub.connection.enqueue(
            protocol.frame("unsubscribed", board_id=str(self.board_id), reason=reason)
        )

    def end_all(self, reason: str) -> None:
        for sub in list(self.subscriptions.values()):
            self.end(sub, reason)

    def _resync_all(self) -> None:
        metrics.RESYNCS.inc(len(self.subscriptions))
        item = Outgoing(protocol.frame("resync", board_id=str(self.board_id)))
        for sub in self.subscriptions.values():
            sub.connection.deliver(item)

    def send_presence(self, users: list[str]) -> None:
        self.presence = users
        item = Outgoing(protocol.frame("presence", board_id=str(self.board_id), users=users))
        for sub in self.subscriptions.values():
            if not sub.replaying:
                sub.connection.deliver(item)
