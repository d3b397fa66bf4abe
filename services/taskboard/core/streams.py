"""The Redis side of the event log: sharded, capped streams and the per-board watermark.

Delivery into Redis is at-least-once (the api after commit, the relay for what it missed);
consumers drop duplicates by (board_id, seq). PostgreSQL stays the truth: losing Redis loses
nothing that the event log cannot give back.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis

WATERMARK_KEY = "tb:published"

# XADD every event, then raise each board's watermark (the highest seq known to be in Redis).
_PUBLISH = """
local maxlen = ARGV[1]
local n = (#ARGV - 1) / 3
for i = 0, n - 1 do
  local payload = ARGV[2 + i * 3]
  local board = ARGV[3 + i * 3]
  local seq = tonumber(ARGV[4 + i * 3])
  redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', maxlen, '*', 'e', payload)
  local current = tonumber(redis.call('HGET', KEYS[#KEYS], board) or '0')
  if seq > current then redis.call('HSET', KEYS[#KEYS], board, seq) end
end
return n
"""


class LoggedEvent(Protocol):
    """A row of the board event log (`events.models.BoardEvent`), as the streams read it."""

    @property
    def board_id(self) -> uuid.UUID: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def actor_id(self) -> uuid.UUID | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def trace_context(self) -> str | None: ...


def shard_of(board_id: uuid.UUID, shards: int) -> int:
    """Stable across processes and releases (never Python's salted hash())."""
    return zlib.crc32(board_id.bytes) % shards


def stream_key(shard: int) -> str:
    return f"tb:events:{shard}"


@dataclass(frozen=True)
class StreamEvent:
    board_id: uuid.UUID
    seq: int
    type: str
    data: dict[str, Any]
    actor_id: uuid.UUID | None
    ts: str  # ISO 8601 commit-side timestamp
    traceparent: str | None = None  # W3C: the writing request's trace, for consumers to go on

    @classmethod
    def from_row(cls, event: LoggedEvent) -> StreamEvent:
        return cls(
            board_id=event.board_id,
            seq=event.seq,
            type=event.type,
            data=event.data,
            actor_id=event.actor_id,
            ts=_iso(event.created_at),
            traceparent=event.trace_context,
        )

    def encode(self) -> str:
        return json.dumps(
            {
                "board_id": str(self.board_id),
                "seq": self.seq,
                "type": self.type,
                "data": self.data,
                "actor_id": str(self.actor_id) if self.actor_id else None,
                "ts": self.ts,
                **({"tp": self.traceparent} if self.traceparent else {}),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> StreamEvent:
        obj = json.loads(raw)
        return cls(
            board_id=uuid.UUID(obj["board_id"]),
            seq=int(obj["seq"]),
            type=str(obj["type"]),
            data=obj["data"],
            actor_id=uuid.UUID(obj["actor_id"]) if obj.get("actor_id") else None,
            ts=str(obj["ts"]),
            traceparent=str(obj["tp"]) if obj.get("tp") else None,
        )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def publish(redis: Redis, events: Sequence[StreamEvent], *, shards: int, maxlen: int) -> None:
    """Append events to their boards' shards and raise the watermarks, in one round trip."""
    if not events:
        return
    keys = [stream_key(shard_of(e.board_id, shards)) for e in events] + [WATERMARK_KEY]
    args: list[Any] = [maxlen]
    for event in events:
        args += [event.encode(), str(event.board_id), event.seq]
    await redis.register_script(_PUBLISH)(keys=keys, args=args)  # EVALSHA after the first


async def watermarks(redis: Redis, board_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not board_ids:
        return {}
    values = await redis.hmget(WATERMARK_KEY, [str(b) for b in board_ids])
    return {b: int(v) for b, v in zip(board_ids, values, strict=True) if v is not None}
