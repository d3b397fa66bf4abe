"""Write → frame correlation.

A writing user puts a token in the text it writes (a task's title, a comment's body):
`lt:<kind>:<id>:<send time>`. The send time is the writer's wall clock, in the payload itself, so
a socket in another Locust process (or on another machine: their clocks must agree) measures the
latency without any shared state. `kind` names the one event that carries a fresh token
(c: task.created, u: task.updated, m: comment.created): a task.moved frame also holds the
task's title, and its old token must not be measured again.

Within one process the writer also records the token in `Pending`, with the sockets of that
process subscribed to the board at that moment: each must see the frame within
`--frame-timeout`, or the write counts as a missing frame."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

KIND_EVENTS = {"c": "task.created", "u": "task.updated", "m": "comment.created"}
EVENT_KINDS = {event: kind for kind, event in KIND_EVENTS.items()}
TOKEN = re.compile(r"lt:([cum]):([0-9a-f]{12}):(\d+\.\d{6})")


@dataclass(frozen=True)
class Token:
    text: str
    id: str
    event: str
    sent_at: float  # wall clock, seconds


def new_token(event: str) -> Token:
    """A fresh token for a write that appends `event`, stamped now."""
    token_id = uuid.uuid4().hex[:12]
    sent_at = time.time()
    return Token(f"lt:{EVENT_KINDS[event]}:{token_id}:{sent_at:.6f}", token_id, event, sent_at)


def find_token(event: str, raw: str) -> Token | None:
    """The token a frame of `event` carries for that event, if any (searched in the raw text:
    cheaper than walking the decoded frame, and the token cannot occur by accident)."""
    kind = EVENT_KINDS.get(event)
    if kind is None:
        return None
    for match in TOKEN.finditer(raw):
        if match.group(1) == kind:
            return Token(match.group(0), match.group(2), event, float(match.group(3)))
    return None


@dataclass
class _Entry:
    board_id: str
    event: str
    sent_at: float
    waiting: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Overdue:
    event: str
    board_id: str
    readers: int
    age: float


class Pending:
    """Writes of this process still awaited by sockets of this process."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._readers: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def subscribed(self, board_id: str, reader: int) -> None:
        """`reader` receives the board's events from now on (its `subscribed` frame came)."""
        self._readers.setdefault(board_id, set()).add(reader)

    def forget_reader(self, reader: int, board_id: str | None = None) -> None:
        """`reader` stopped (or, for one board, was told to resync: what it missed is not
        delivered, by the protocol): it is awaited no longer."""
        for board, readers in self._readers.items():
            if board_id is None or board == board_id:
                readers.discard(reader)
        for entry in self._entries.values():
            if board_id is None or entry.board_id == board_id:
                entry.waiting.discard(reader)

    def sent(self, token: Token, board_id: str) -> None:
        """Called before the request goes out: its frame may beat the HTTP answer."""
        readers = self._readers.get(board_id)
        if readers:
            self._entries[token.id] = _Entry(board_id, token.event, token.sent_at, set(readers))

    def failed(self, token: Token) -> None:
        """The write was refused: no frame will come."""
        self._entries.pop(token.id, None)

    def seen(self, token: Token, reader: int) -> None:
        entry = self._entries.get(token.id)
        if entry is not None:
            entry.waiting.discard(reader)
            if not entry.waiting:
                del self._entries[token.id]

    def overdue(self, timeout: float, now: float | None = None) -> list[Overdue]:
        """Writes older than `timeout` that some reader never saw; they are dropped."""
        now = time.time() if now is None else now
        late: list[Overdue] = []
        for token_id, entry in list(self._entries.items()):
            if not entry.waiting:
                del self._entries[token_id]
            elif now - entry.sent_at > timeout:
                late.append(
                    Overdue(entry.event, entry.board_id, len(entry.waiting), now - entry.sent_at)
                )
                del self._entries[token_id]
        return late
