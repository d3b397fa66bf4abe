from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from taskboard.core.schemas import InputModel, IsInteger, Name, NotNull, OutputModel

COLUMN_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"
ColumnKey = Annotated[str, StringConstraints(pattern=COLUMN_KEY_PATTERN)]
WipLimit = Annotated[int, Field(ge=1, le=10_000), IsInteger]


class ColumnRead(OutputModel):
    id: uuid.UUID
    key: str
    name: str
    position: str
    wip_limit: int | None


class ColumnCreate(InputModel):
    name: Name(100)  # type: ignore[valid-type]
    key: ColumnKey | None = None
    wip_limit: WipLimit | None = None
    after_key: ColumnKey | None = None


class ColumnUpdate(InputModel):
    name: Annotated[Name(100), NotNull] = None  # type: ignore[valid-type]
    wip_limit: WipLimit | None = None


class ColumnMove(InputModel):
    before_key: ColumnKey | None = None
    after_key: ColumnKey | None = None
