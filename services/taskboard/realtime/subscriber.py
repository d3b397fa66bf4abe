"""One socket: a bounded send queue drained by its own sender task, and its subscriptions.

A frame is written at once, straight to the transport (see wire.py), when nothing is queued or
being written before it and the transport takes it without waiting; otherwise it is queued
for the sender. Fan-out never waits: a slow socket fills its own queue and is closed with
CLOSE_SLOW_CONSUMER; it never blocks the reader or other sockets. A socket whose
peer stops reading is closed the same way once one write has waited too long (see
housekeeping.close_stalled): the kernel's and the transport's buffers can hold megabytes, and
without that limit the keepalive (1011, tens of seconds later) would be what ended it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.websockets import WebSocket, WebSocketDisconnect

from taskboard.auth.principal import Principal
from taskboard.realtime import metrics, protocol
from taskboard.realtime.wire import Outgoing, Wire

log = logging.getLogger("taskboard.realtime")

SENDER_LINGER_SECONDS = 5.0
# Closing tasks, referenced until they end (asyncio keeps only weak references to tasks).
_closing: set[asyncio.Task[None]] = set()


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        principal: Principal,
        queue_size: int,
        queue_bytes: int,
        wire: Wire | None = None,
    ) -> None:
        self.id = secrets.token_hex(6)
        self.websocket = websocket
        self.user_id = principal.user_id
        self.session_id = principal.session_id
        self._expiry: asyncio.TimerHandle | None = None
        self.expire_at(principal.expires_at)
        # A bare deque, not asyncio.Queue: nothing waits on it (the sender exits when it runs
        # dry), and four deques per idle socket add up at ten thousand sockets.
        self.queue: deque[Outgoing] = deque()
        self.wire = wire
        self.queue_limit = queue_size
        # Frames are bounded in bytes too: a thousand 20 KB frames are 20 MB per socket.
        self.queue_bytes_limit = queue_bytes
        self.queued_bytes = 0
        # When the write in progress started (None: none is). A watchdog reads it: a timer
        # per frame would cost an allocation per frame per socket, and the collector's work
        # behind the fan-out latency tail.
        self.sending_since: float | None = None
        self.send_lock = asyncio.Lock()
        self.subscriptions: dict[uuid.UUID, Subscription] = {}
        self.closing = False
        self.sender: asyncio.Task[None] | None = None
        self.wakeup: asyncio.Event | None = None  # exists while a sender does

    def expire_at(self, moment: datetime | None) -> None:
        """Close the socket when its token expires, unless a fresh `auth` moves this on."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if moment is not None:
            delay = max(0.0, (moment - datetime.now(UTC)).total_seconds())
            self._expiry = asyncio.get_running_loop().call_later(
                delay, self.kick, protocol.CLOSE_TOKEN_EXPIRED, "token expired; authenticate again"
            )

    def reauthenticate(self, principal: Principal) -> bool:
        """A fresh token on the open socket: same user only. Its session is the new one."""
        if principal.user_id != self.user_id:
            return False
        self.session_id = principal.session_id
        self.expire_at(principal.expires_at)
        return True

    def enqueue(self, text: str) -> None:
        """A control frame (not an event's)."""
        self.deliver(Outgoing(text))

    def deliver(self, item: Outgoing) -> None:
        if self.push(item):
            metrics.frames_written(1, item.ts)

    def push(self, item: Outgoing) -> bool:
        """Write `item` now, or queue it. True: written now, and the caller counts it in the
        metrics (a fan-out counts its thousand sockets in one update).

        Written now only when nothing can come before it: the queue is empty (the sender
        pops a frame only once it is written) and no `send_now` is writing."""
        if self.closing:
            return False
        wire = self.wire
        if wire is not None and not self.queue and self.sending_since is None and wire.ready():
            wire.write(item)
            return True
        if len(self.queue) >= self.queue_limit or self.queued_bytes > self.queue_bytes_limit:
            metrics.SLOW_CONSUMERS.inc()
            log.info("closing slow consumer", extra={"connection": self.id})
            self.kick(protocol.CLOSE_SLOW_CONSUMER, "send queue overflowed; resume with since")
            return False
        self.queue.append(item)
        self.queued_bytes += len(item.text)
        if self.sender is None:
            # Started on first use, ended after SENDER_LINGER_SECONDS with nothing to send: an
            # idle socket holds no task (memory per socket bounds a pod), and a busy one keeps
            # its task (a task per socket per event was a fifth of a busy pod's CPU, and the
            # garbage collector's work behind the long latency tail).
            self.wakeup = asyncio.Event()
            self.sender = asyncio.create_task(self._drain(), name=f"ws-sender-{self.id}")
        elif self.wakeup is not None:
            self.wakeup.set()
        return False

    async def send_now(self, text: str) -> None:
        """Write directly (replay), in order with the sender task's frames."""
        await self._send(text)

    async def _send(self, text: str) -> None:
        async with self.send_lock:
            self.sending_since = time.monotonic()
            try:
                await self.websocket.send_text(text)
            finally:
                self.sending_since = None
        metrics.FRAMES_SENT.inc()

    def stalled(self, now: float, limit: float) -> bool:
        """Whether one write has been waiting for the peer longer than `limit` seconds."""
        since = self.sending_since
        return since is not None and now - since > limit

    async def _drain(self) -> None:
        wakeup = self.wakeup
        assert wakeup is not None
        try:
            while True:
                while self.queue:
                    # Popped once written: an empty queue lets `push` write directly, and
                    # while this frame waits for the lock (behind a `send_now`) nothing else
                    # would say that it is still to go out.
                    item = self.queue[0]
                    await self._send(item.text)
                    self.queue.popleft()
                    self.queued_bytes -= len(item.text)
                    if item.ts is not None:
                        metrics.COMMIT_TO_SEND.observe(max(0.0, time.time() - item.ts))
                wakeup.clear()
                try:
                    async with asyncio.timeout(SENDER_LINGER_SECONDS):
                        await wakeup.wait()
                except TimeoutError:
                    if not self.queue:
                        return
        except (OSError, RuntimeError, WebSocketDisconnect):
            self.closing = True  # the socket is gone; its receive loop cleans up
        finally:
            self.sender = None
            self.wakeup = None

    def kick(self, code: int, reason: str) -> None:
        """Close the socket without waiting for its (possibly stuck) sender."""
        if self.closing:
            return
        self.closing = True
        if self.sender is not None and self.sender is not asyncio.current_task():
            self.sender.cancel()
        task = asyncio.get_running_loop().create_task(self._close(code, reason))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _close(self, code: int, reason: str) -> None:
        # Not cancelled on a timer: the close frame must be queued on the transport (its
        # state then says CLOSING, so the keepalive cannot send 1011 in its place); the
        # transport bounds the closing handshake itself.
        try:
            await self.websocket.close(code, reason)
        except Exception as exc:  # the peer may already be gone; nothing is left to tell it
            log.debug("close failed", extra={"connection": self.id, "error": repr(exc)})

    async def stop(self) -> None:
        self.closing = True
        self.expire_at(None)
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender


@dataclass(eq=False)
class Subscription:
    """A socket's interest in one board. While its replay is being written, live frames wait in
    `pending` (bounded) so they follow the replay in seq order."""

    connection: Connection
    board_id: uuid.UUID
    floor: int  # frames with seq <= floor are not sent (already replayed, or the client has them)
    replaying: bool = True
    pending: list[Outgoing] = field(default_factory=list)
    pending_bytes: int = 0

    def offer(self, seq: int, item: Outgoing) -> bool:
        """True: written to the socket now (the caller counts it)."""
        if seq <= self.floor:
            return False
        self.floor = seq
        if self.replaying:
            self.pending.append(item)
            self.pending_bytes += len(item.text)
            connection = self.connection
            if (
                len(self.pending) > connection.queue_limit
                or self.pending_bytes > connection.queue_bytes_limit
            ):
                metrics.SLOW_CONSUMERS.inc()
                self.connection.kick(protocol.CLOSE_SLOW_CONSUMER, "fell behind during replay")
            return False
        return self.connection.push(item)

    def go_live(self) -> None:
        self.replaying = False
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        for item in pending:
            self.connection.deliver(item)
