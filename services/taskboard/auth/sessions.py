"""Ending sessions before their access tokens expire.

A session is one login: its refresh-token family, whose id every access token it issues
carries (`sid`). PostgreSQL marks the family revoked (refresh stops working); Redis holds the
revoked session ids for as long as one of their access tokens can live, so every request and
socket can check in one round trip; and a pub/sub message tells every realtime pod to close
that session's sockets now. If Redis is unreachable the check lets the request through and
logs it: the database still refuses refreshes, and access tokens die within their lifetime.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("taskboard.auth")
CHANNEL = "tb:sessions:ended"


def _key(session_id: uuid.UUID) -> str:
    return f"tb:session:revoked:{session_id}"


@dataclass(frozen=True)
class SessionsEnded:
    """What a realtime pod is told: these sessions of this user are over."""

    user_id: uuid.UUID
    session_ids: tuple[uuid.UUID, ...]

    def encode(self) -> str:
        return json.dumps(
            {"user_id": str(self.user_id), "session_ids": [str(s) for s in self.session_ids]}
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> SessionsEnded:
        data = json.loads(raw)
        return cls(uuid.UUID(data["user_id"]), tuple(uuid.UUID(s) for s in data["session_ids"]))


async def end(
    redis: Redis, *, user_id: uuid.UUID, session_ids: Sequence[uuid.UUID], ttl_seconds: int
) -> None:
    """Called after the revocation committed. Failure only logs: the rows are revoked."""
    if not session_ids:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.set(_key(session_id), b"1", ex=ttl_seconds)
            pipe.publish(CHANNEL, SessionsEnded(user_id, tuple(session_ids)).encode())
            await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("could not announce ended sessions", extra={"error": repr(exc)})


async def is_ended(redis: Redis, session_id: uuid.UUID) -> bool:
    try:
        return bool(await redis.exists(_key(session_id)))
    except (RedisError, OSError) as exc:
        log.warning("session check skipped: Redis unreachable", extra={"error": repr(exc)})
        return False
