"""The board document (`{"format": "taskboard.board", "version": 1, ...}`): what an export
writes and an import reads. Everything is named, nothing by id: columns by key, labels by
name, people by e-mail, a reply's parent by its index in the task's comments, order by the
order of the lists. So a document moves between servers, and export -> import -> export gives
the same document (only `exported_at` differs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from taskboard.access.roles import Role
from taskboard.columns.schemas import ColumnKey, WipLimit
from taskboard.core.schemas import IsInteger, Name, Text, Timestamp
from taskboard.labels.schemas import Color
from taskboard.tasks.schemas import Priority

FORMAT = "taskboard.board"
VERSION = 1

# Matched to accounts as login matches addresses (Unicode case folded); not checked as an
# address: an account's own address is whatever it signed up with.
Email = Text(320, min_length=3)
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=100_000)


class DocBoard(_Part):
    name: Name(200)  # type: ignore[valid-type]
    description: Text(20_000) = ""  # type: ignore[valid-type]


class DocColumn(_Part):
    """In board order."""

    key: ColumnKey
    name: Name(100)  # type: ignore[valid-type]
    wip_limit: WipLimit | None = None


class DocLabel(_Part):
    name: Name(50)  # type: ignore[valid-type]
    color: Color = "#6b7280"


class DocMember(_Part):
    email: Email  # type: ignore[valid-type]
    role: Role
    display_name: Text(100) | None = Field(  # type: ignore[valid-type]
        None, description="informative: the account found by `email` keeps its own name"
    )


class DocComment(_Part):
    """In the order they were written (a reply after its parent)."""

    author: Email | None = Field(None, description="null: an account that no longer exists")  # type: ignore[valid-type]
    body: Text(10_000) = Field(description="empty for a deleted comment, whose thread stays")  # type: ignore[valid-type]
    parent: Annotated[int, Field(ge=0), IsInteger] | None = Field(
        None, description="the index, in this task's `comments`, of the comment it replies to"
    )
    created_at: Timestamp | None = None
    edited_at: Timestamp | None = None
    deleted_at: Timestamp | None = None


class DocAttachment(_Part):
    """A file's record; the bytes travel only in the zip export (`path`)."""

    filename: Text(1000, min_length=1)  # type: ignore[valid-type]
    size: Annotated[int, Field(ge=0), IsInteger]
    sha256: Sha256
    content_type: Text(255, min_length=1) = Field(  # type: ignore[valid-type]
        description="sniffed from the content when it was uploaded"
    )
    uploaded_by: Email | None = None  # type: ignore[valid-type]
    created_at: Timestamp | None = None
    path: Text(1000) | None = Field(  # type: ignore[valid-type]
        None, description="where the zip export holds the bytes; null in the JSON export"
    )


class DocTask(_Part):
    """Tasks of a column in the column's order; the trash included (`deleted_at`)."""

    title: Name(200)  # type: ignore[valid-type]
    description: Text(20_000) = ""  # type: ignore[valid-type]
    column: ColumnKey
    priority: Priority = "none"
    start_at: Timestamp | None = None
    due_at: Timestamp | None = None
    assignees: Annotated[list[Email], Field(max_length=50)] = []  # type: ignore[valid-type]
    labels: Annotated[list[Name(50)], Field(max_length=50)] = []  # type: ignore[valid-type]
    created_by: Email | None = None  # type: ignore[valid-type]
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    deleted_at: Timestamp | None = Field(None, description="set: the task is in the trash")
    comments: Annotated[list[DocComment], Field(max_length=10_000)] = []
    attachments: Annotated[list[DocAttachment], Field(max_length=1_000)] = []

    @field_validator("due_at")
    @classmethod
    def _after_start(cls, due_at: datetime | None, info: ValidationInfo) -> datetime | None:
        start_at = info.data.get("start_at")
        if due_at is not None and start_at is not None and start_at > due_at:
            raise PydanticCustomError("after_start", "must not be before start_at")
        return due_at


class BoardDocument(_Part):
    """A whole board: what GET /boards/{id}/export answers and POST /boards/import takes."""

    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={
            "examples": [
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "board": {"name": "Launch", "description": ""},
                    "columns": [
                        {"key": "todo", "name": "To do", "wip_limit": None},
                        {"key": "done", "name": "Done", "wip_limit": None},
                    ],
                    "labels": [{"name": "bug", "color": "#dc2626"}],
                    "members": [{"email": "ada@example.com", "role": "owner"}],
                    "tasks": [
                        {
                            "title": "Write the announcement",
                            "column": "todo",
                            "priority": "high",
                            "assignees": ["ada@example.com"],
                            "labels": ["bug"],
                            "comments": [{"author": "ada@example.com", "body": "Draft is up"}],
                        }
                    ],
                }
            ]
        },
    )

    format: Literal["taskboard.board"]
    version: Annotated[Literal[1], IsInteger]
    exported_at: Timestamp | None = None
    board: DocBoard
    columns: Annotated[list[DocColumn], Field(max_length=1_000)]
    labels: Annotated[list[DocLabel], Field(max_length=10_000)] = []
    members: Annotated[list[DocMember], Field(max_length=10_000)] = []
    tasks: Annotated[list[DocTask], Field(max_length=200_000)] = []
