"""Ended sessions (logout, logout everywhere, password change, a replayed refresh token) close
their sockets on every pod: each pod listens for the api's announcements."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskboard.auth import sessions
from taskboard.core.lifecycle import pause
from taskboard.realtime import protocol
from taskboard.realtime.subscriber import Connection

log = logging.getLogger("taskboard.realtime")


def close_ended(connections: Iterable[Connection], ended: sessions.SessionsEnded) -> int:
    closed = 0
    for connection in list(connections):
        if connection.user_id == ended.user_id and connection.session_id in ended.session_ids:
            connection.kick(protocol.CLOSE_SESSION_ENDED, "session ended; sign in again")
            closed += 1
    return closed


async def listen(redis: Redis, connections: Iterable[Connection], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(sessions.CHANNEL)
                while not stop.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        close_ended(connections, sessions.SessionsEnded.decode(message["data"]))
        except (RedisError, OSError, ValueError, KeyError) as exc:
            log.warning("session listener failed", extra={"error": repr(exc)})
            await pause(stop, 1.0)
