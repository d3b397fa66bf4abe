from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from taskboard.core.schemas import OutputModel


class EventRead(OutputModel):
    board_id: uuid.UUID
    seq: int
    type: str
    data: dict[str, Any]
    actor_id: uuid.UUID | None
    created_at: datetime


class EventPage(OutputModel):
    items: list[EventRead]
    next_after: int | None
    last_seq: int


class TaskEventPage(OutputModel):
    """A task's events, newest first; `next_before` is the `before` of the next (older) page,
    null on the last."""

    items: list[EventRead]
    next_before: int | None
