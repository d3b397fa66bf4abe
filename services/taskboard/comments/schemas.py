from __future__ import annotations

import uuid
from datetime import datetime

from taskboard.core.schemas import InputModel, Name, OutputModel


class CommentCreate(InputModel):
    body: Name(10_000)  # type: ignore[valid-type]
    parent_id: uuid.UUID | None = None


class CommentUpdate(InputModel):
    body: Name(10_000)  # type: ignore[valid-type]


class CommentRead(OutputModel):
    id: uuid.UUID
    task_id: uuid.UUID
    board_id: uuid.UUID
    parent_id: uuid.UUID | None
    author_id: uuid.UUID | None
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None


class CommentPage(OutputModel):
    items: list[CommentRead]
    next_cursor: str | None
