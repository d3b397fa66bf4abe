"""The outbox relay: appends committed events that never reached Redis (the api died between
commit and append, or Redis was down). Safe to run in several processes: duplicates are
dropped downstream by (board_id, seq)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from fastapi import FastAPI
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taskboard.core import streams as stream
from taskboard.core.config import Settings
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import background
from taskboard.core.streams import StreamEvent
from taskboard.events import log as events
from taskboard.routing.probe import probe_app

log = logging.getLogger("taskboard.relay")

RELAYED = Counter("taskboard_relay_events", "Events the relay appended to Redis streams")
RELAY_ERRORS = Counter("taskboard_relay_errors", "Relay passes that failed")

# When a board's watermark is gone (Redis restarted empty) its latest events are re-sent:
# consumers fill any older gap from the event log once a later event reaches them.
TAIL_WITHOUT_WATERMARK = 100
BATCH = 1000

_RECENT_TOPS = text(
    """
    SELECT board_id, max(seq) AS top
    FROM board_events
    WHERE created_at > now() - make_interval(secs => :lookback)
      AND created_at <= now() - make_interval(secs => :grace)
    GROUP BY board_id
    """
)


async def relay_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    settings: Settings,
    *,
    lookback_seconds: float,
) -> int:
    """One pass: find boards whose latest committed event is above their watermark."""
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                _RECENT_TOPS,
                {"lookback": lookback_seconds, "grace": settings.relay_grace_ms / 1000},
            )
        ).all()
        tops: dict[uuid.UUID, int] = {row.board_id: int(row.top) for row in rows}
        marks = await stream.watermarks(redis, list(tops))
        sent = 0
        for board_id, top in tops.items():
            mark = marks.get(board_id)
            if mark is not None and mark >= top:
                continue
            start = mark if mark is not None else max(0, top - TAIL_WITHOUT_WATERMARK)
            while start < top:
                batch = await events.list_between(
                    session, board_id=board_id, after=start, upto=top, limit=BATCH
                )
                if not batch:
                    break
                await stream.publish(
                    redis,
                    [StreamEvent.from_row(e) for e in batch],
                    shards=settings.stream_shards,
                    maxlen=settings.stream_maxlen,
                )
                sent += len(batch)
                start = batch[-1].seq
    if sent:
        RELAYED.inc(sent)
        log.info("relayed events", extra={"events": sent})
    return sent


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    settings: Settings,
    stop: asyncio.Event,
) -> None:
    """Relay until `stop` is set. After failures the next pass looks back over the outage."""
    lookback = float(settings.relay_startup_lookback_seconds)
    last_ok = time.monotonic()
    while not stop.is_set():
        try:
            await relay_once(sessionmaker, redis, settings, lookback_seconds=lookback)
            last_ok = time.monotonic()
            lookback = float(settings.relay_lookback_seconds)
        except (RedisError, SQLAlchemyError, OSError) as exc:
            RELAY_ERRORS.inc()
            lookback = max(lookback, time.monotonic() - last_ok + settings.relay_lookback_seconds)
            log.warning("relay pass failed", extra={"error": repr(exc)})
        await pause(stop, settings.relay_interval_seconds)


running_relay = background(
    "relay", lambda res, stop: run(res.sessionmaker, res.redis, res.settings, stop)
)


def create_app(settings: Settings) -> FastAPI:
    """`taskboard relay`: the relay loop plus /healthz, /readyz and /metrics."""
    return probe_app(settings, component="relay", services=[running_relay])
