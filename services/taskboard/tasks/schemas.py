from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from taskboard.columns.schemas import ColumnKey
from taskboard.core.schemas import InputModel, Name, OutputModel, Text, Timestamp

Priority = Literal["none", "low", "medium", "high", "urgent"]
IdList = Annotated[list[uuid.UUID], Field(max_length=50)]
TaskSort = Literal[
    "position", "created_at", "-created_at", "updated_at", "-updated_at", "due_at", "-due_at"
]


class TaskRead(OutputModel):
    id: uuid.UUID
    board_id: uuid.UUID
    status: str
    position: str
    title: str
    description: str
    priority: Priority
    assignee_ids: list[uuid.UUID]
    labels: list[uuid.UUID]
    start_at: datetime | None
    due_at: datetime | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    version: int


def _dates_in_order(start_at: datetime | None, due_at: datetime | None) -> None:
    if start_at is not None and due_at is not None and start_at > due_at:
        raise ValueError("start_at must not be after due_at")


class TaskCreate(InputModel):
    title: Name(200)  # type: ignore[valid-type]
    description: Text(20_000) = ""  # type: ignore[valid-type]
    status: ColumnKey | None = None
    priority: Priority = "none"
    assignee_ids: IdList = []
    labels: IdList = []
    start_at: Timestamp | None = None
    due_at: Timestamp | None = None

    @model_validator(mode="after")
    def _dates(self) -> TaskCreate:
        _dates_in_order(self.start_at, self.due_at)
        return self


class TaskUpdate(InputModel):
    title: Name(200) | None = None  # type: ignore[valid-type]
    description: Text(20_000) | None = None  # type: ignore[valid-type]
    priority: Priority | None = None
    assignee_ids: IdList | None = None
    labels: IdList | None = None
    start_at: Timestamp | None = None
    due_at: Timestamp | None = None


class TaskMove(InputModel):
    status: ColumnKey
    before_id: uuid.UUID | None = None
    after_id: uuid.UUID | None = None


class TaskPage(OutputModel):
    items: list[TaskRead]
    next_cursor: str | None
