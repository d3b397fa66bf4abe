from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

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


class TaskCreate(InputModel):
    title: Name(200)  # type: ignore[valid-type]
    description: Text(20_000) = ""  # type: ignore[valid-type]
    status: ColumnKey | None = None
    priority: Priority = "none"
    assignee_ids: IdList = []
    labels: IdList = []
    start_at: Timestamp | None = None
    due_at: Timestamp | None = None

    @field_validator("due_at")
    @classmethod
    def _after_start(cls, due_at: datetime | None, info: ValidationInfo) -> datetime | None:
        start_at = info.data.get("start_at")
        if due_at is not None and start_at is not None and start_at > due_at:
            # The same field and rule as a PATCH that breaks the order (tasks/service.py).
            raise PydanticCustomError("after_start", "must not be before start_at")
        return due_at


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
