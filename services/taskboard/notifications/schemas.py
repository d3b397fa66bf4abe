from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from taskboard.core.schemas import InputModel, OutputModel

Kind = Literal[
    "mention",
    "reply",
    "comment",
    "assigned",
    "unassigned",
    "status_changed",
    "due_soon",
    "overdue",
]


class NotificationRead(OutputModel):
    id: uuid.UUID
    user_id: uuid.UUID = Field(description="whom it is for (the caller)")
    kind: Kind
    board_id: uuid.UUID
    task_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    data: dict[str, Any] = Field(
        description="what the client shows: task_title, status, from_status, excerpt, ..."
    )
    created_at: datetime
    read_at: datetime | None


class NotificationPage(OutputModel):
    items: list[NotificationRead]
    next_cursor: str | None


class UnreadCount(OutputModel):
    unread: int


class ReadAll(InputModel):
    up_to: uuid.UUID | None = Field(
        None,
        description="mark this notification and every older one read (the newest the user "
        "has seen, so one that arrived meanwhile stays unread); none: all of them",
    )


class ReadAllResult(OutputModel):
    marked: int
