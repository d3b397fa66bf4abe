from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict

from taskboard.access.roles import Role
from taskboard.columns.schemas import ColumnRead
from taskboard.core.schemas import Flag, InputModel, Name, NotNull, OutputModel, Text


class BoardCreate(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={"examples": [{"name": "Launch", "description": "Q1 launch plan"}]},
    )

    name: Name(200)  # type: ignore[valid-type]
    description: Text(20_000) = ""  # type: ignore[valid-type]


class BoardUpdate(InputModel):
    name: Annotated[Name(200), NotNull] = None  # type: ignore[valid-type]
    description: Annotated[Text(20_000), NotNull] = None  # type: ignore[valid-type]
    # true archives the board (read-only, listed apart), false brings it back.
    archived: Annotated[Flag, NotNull] = None  # type: ignore[assignment]


class BoardRead(OutputModel):
    id: uuid.UUID
    name: str
    description: str
    seq: int
    role: Role
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None  # set while the board is archived (read-only)


class BoardCreated(BoardRead):
    columns: list[ColumnRead]


class MemberRead(OutputModel):
    user_id: uuid.UUID
    display_name: str
    # Only board admins and owners see members' addresses (and everyone their own); null
    # otherwise, and always in the board snapshot, which every viewer shares.
    email: str | None = None
    role: Role
    created_at: datetime


class MemberPut(InputModel):
    role: Role


class MemberAdd(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        str_max_length=100_000,
        json_schema_extra={"examples": [{"email": "ada@example.com", "role": "member"}]},
    )

    # Read as login reads it (the account's address, matched case-insensitively), so any
    # address someone signs in with finds their account.
    email: Text(320, min_length=3)  # type: ignore[valid-type]
    role: Role


class BoardPage(OutputModel):
    items: list[BoardRead]
    next_cursor: str | None


class MemberPage(OutputModel):
    items: list[MemberRead]
    next_cursor: str | None
