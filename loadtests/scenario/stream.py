"""The socket side without the socket: what a subscription guarantees (docs/realtime-protocol.md,
"What a subscription guarantees": strictly increasing, gap-free `seq`, no duplicates, across
the replay and the live stream) checked frame by frame, and the `since` to resume from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class StreamError(Exception):
    """A frame broke a subscription's guarantee."""


class SeqGap(StreamError):
    pass


class SeqRepeat(StreamError):
    """A duplicate or out-of-order frame."""


@dataclass
class Subscription:
    board_id: str
    last_seq: int | None = None  # None: nothing seen yet, subscribe for live events only
    epoch: str | None = None
    replay_until: int = 0  # events up to this seq answer a resume (replayed), later ones are live
    ignore_until: int = 0  # after a resync: what the reloaded snapshot already holds
    active: bool = False


class Streams:
    """The subscriptions of one socket user, kept across reconnects."""

    def __init__(self, board_ids: list[str]) -> None:
        self.subs = {board_id: Subscription(board_id) for board_id in board_ids}

    def subscribe_messages(self) -> list[dict[str, Any]]:
        """What to send on a (re)connected socket: each board resumed after the last seq seen."""
        messages: list[dict[str, Any]] = []
        for sub in self.subs.values():
            sub.active = False
            message: dict[str, Any] = {
                "type": "subscribe",
                "board_id": sub.board_id,
                "since": sub.last_seq,
            }
            if sub.epoch is not None:
                message["epoch"] = sub.epoch
            messages.append(message)
        return messages

    def subscribed(self, board_id: str, seq: int, epoch: str) -> bool:
        """The server's `subscribed`; True when it resumes (events up to `seq` replay next)."""
        sub = self.subs[board_id]
        sub.epoch = epoch
        sub.active = True
        if sub.last_seq is None:
            sub.last_seq = seq
            return False
        sub.replay_until = seq
        return sub.last_seq < seq

    def event(self, board_id: str, seq: int) -> str:
        """Checks one event frame: `live`, `replayed` (it answers a resume) or `ignored` (the
        snapshot reloaded after a resync holds it). Raises `StreamError` on a gap (and carries
        on from the frame, so one loss counts once) or a repeat (which is dropped)."""
        sub = self.subs.get(board_id)
        if sub is None or sub.last_seq is None:
            raise StreamError(f"event seq {seq} on board {board_id} before its `subscribed`")
        if seq <= sub.ignore_until:
            return "ignored"
        expected = sub.last_seq + 1
        if seq < expected:
            raise SeqRepeat(f"seq {seq} after {sub.last_seq} on board {board_id}")
        sub.last_seq = seq
        if seq > expected:
            raise SeqGap(f"seq {expected}..{seq - 1} missing on board {board_id}")
        return "replayed" if seq <= sub.replay_until else "live"

    def resync(self, board_id: str, snapshot_seq: int, epoch: str) -> None:
        """After `resync` the client reloads the snapshot and takes the events after its seq."""
        sub = self.subs[board_id]
        sub.last_seq = snapshot_seq
        sub.ignore_until = snapshot_seq
        sub.epoch = epoch
        sub.replay_until = 0

    def all_active(self) -> bool:
        return all(sub.active for sub in self.subs.values())
