"""New notifications reach their user's sockets on every pod: each pod listens for the
worker's announcements and queues a `notification` frame on that user's connections."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskboard.core.lifecycle import pause
from taskboard.notifications import push
from taskboard.realtime import protocol
from taskboard.realtime.subscriber import Connection

log = logging.getLogger("taskboard.realtime")


def deliver(connections: Iterable[Connection], raw: bytes | str) -> int:
    user_id, notification = push.decode(raw)
    text = protocol.frame("notification", notification=notification)
    sent = 0
    for connection in list(connections):
        if connection.user_id == user_id and not connection.closing:
            connection.enqueue(text)
            sent += 1
    return sent


async def listen(redis: Redis, connections: Iterable[Connection], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(push.CHANNEL)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        deliver(connections, message["data"])
        except (RedisError, OSError, ValueError, KeyError) as exc:
            log.warning("notification listener failed", extra={"error": repr(exc)})
            await pause(stop, 1.0)
