"""New notifications and import progress reach their user's sockets on every pod: each pod
listens for the worker's announcements and queues a `notification` (or `import_job`) frame on
that user's connections."""

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
from taskboard.transfer import push as import_push

log = logging.getLogger("taskboard.realtime")


def deliver(connections: Iterable[Connection], raw: bytes | str) -> int:
    user_id, notification = push.decode(raw)
    return _send(connections, user_id, protocol.frame("notification", notification=notification))


def deliver_import(connections: Iterable[Connection], raw: bytes | str) -> int:
    user_id, job = import_push.decode(raw)
    return _send(connections, user_id, protocol.frame("import_job", job=job))


def _send(connections: Iterable[Connection], user_id: object, text: str) -> int:
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
                await pubsub.subscribe(push.CHANNEL, import_push.CHANNEL)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    channel = message["channel"]
                    if channel in (import_push.CHANNEL, import_push.CHANNEL.encode()):
                        deliver_import(connections, message["data"])
                    else:
                        deliver(connections, message["data"])
        except (RedisError, OSError, ValueError, KeyError) as exc:
            log.warning("notification listener failed", extra={"error": repr(exc)})
            await pause(stop, 1.0)
