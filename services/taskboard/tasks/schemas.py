from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from taskboard.columns.schemas import ColumnKey
from taskboard.core.schemas import InputModel, Name, NotNull, OutputModel, Text, Timestamp

Priority = Literal["none", "low", "medium", "high", "urgent"]
IdList = Annotated[list[uuid.UUID], Field(max_length=50)]
TaskSort = Literal[
    "position", "created_at", "-created_at", "updated_at", "-updated_at", "due_at", "-due_at"
]


class TaskRead(OutputModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2b1e-8d3a-4c55-9b1e-2f0a7c9d4e21",
                    "board_id": "0b7c4d2a-1e9f-4a6b-8c3d-5e7f9a1b2c3d",
                    "status": "todo",
                    "position": "a0",
                    "title": "Write the announcement",
                    "description": "",
                    "priority": "high",
                    "assignee_ids": [],
                    "labels": [],
                    "start_at": None,
                    "due_at": "2027-01-15T17:00:00Z",
                    "created_by": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                    "updated_by": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                    "created_at": "2026-12-02T10:00:00Z",
                    "updated_at": "2026-12-02T10:00:00Z",
                    "deleted_at": None,
                    "version": 1,
                    "comment_count": 0,
                }
            ]
        },
    )

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
    # Live (not deleted) comments on the task, replies included. Not one of the task's own
    # fields: a comment changes it without moving `version` (If-Match) or `updated_at`.
    comment_count: int


class TaskCreate(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={
            "examples": [{"title": "Write the announcement", "priority": "high", "status": "todo"}]
        },
    )

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
    title: Annotated[Name(200), NotNull] = None  # type: ignore[valid-type]
    description: Annotated[Text(20_000), NotNull] = None  # type: ignore[valid-type]
    priority: Annotated[Priority, NotNull] = None  # type: ignore[assignment]
    assignee_ids: Annotated[IdList, NotNull] = None  # type: ignore[assignment]
    labels: Annotated[IdList, NotNull] = None  # type: ignore[assignment]
    start_at: Timestamp | None = None
    due_at: Timestamp | None = None


class TaskMove(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={
            "examples": [{"status": "done", "after_id": "6f1c2b1e-8d3a-4c55-9b1e-2f0a7c9d4e21"}]
        },
    )

    status: ColumnKey
    before_id: uuid.UUID | None = None
    after_id: uuid.UUID | None = None


class TaskPage(OutputModel):
    items: list[TaskRead]
    next_cursor: str | None
