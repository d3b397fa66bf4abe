from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import StringConstraints

from taskboard.core.schemas import InputModel, Name, NotNull, OutputModel

Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


class LabelRead(OutputModel):
    id: uuid.UUID
    name: str
    color: str


class LabelCreate(InputModel):
    name: Name(50)  # type: ignore[valid-type]
    color: Color = "#6b7280"


class LabelUpdate(InputModel):
    name: Annotated[Name(50), NotNull] = None  # type: ignore[valid-type]
    color: Annotated[Color, NotNull] = None  # type: ignore[assignment]


class LabelPage(OutputModel):
    items: list[LabelRead]
    next_cursor: str | None
