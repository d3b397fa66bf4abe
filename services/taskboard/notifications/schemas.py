from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from taskboard.core.schemas import InputModel, IsInteger, NotNull, OutputModel

Kind = Literal[
    "mention",
    "reply",
    "comment",
    "assigned",
    "unassigned",
    "status_changed",
    "due_soon",
    "overdue",
    "webhook_disabled",
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


Offset = Annotated[int, Field(ge=1, le=30 * 24 * 60), IsInteger]


class Preferences(OutputModel):
    in_app: list[Kind] = Field(description="kinds shown in the app (and pushed to sockets)")
    email: list[Kind] = Field(description="kinds sent by e-mail (when the server sends e-mail)")
    reminder_offsets_minutes: list[int] = Field(
        description="due-soon reminders, in minutes before a due date"
    )


class PreferencesUpdate(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": ["assigned", "mention", "due_soon", "overdue"]}]},
    )

    in_app: Annotated[list[Kind], NotNull, Field(max_length=20)] = None  # type: ignore[assignment]
    email: Annotated[list[Kind], NotNull, Field(max_length=20)] = None  # type: ignore[assignment]
    reminder_offsets_minutes: Annotated[list[Offset], NotNull, Field(max_length=5)] = None  # type: ignore[assignment]
