from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from taskboard.core.schemas import InputModel, IsInteger, OutputModel


class AttachmentRead(OutputModel):
    id: uuid.UUID
    task_id: uuid.UUID
    board_id: uuid.UUID
    filename: str
    content_type: str = Field(description="sniffed from the content, not from the name")
    size: int = Field(description="bytes")
    sha256: str = Field(description="hex digest of the content")
    uploaded_by: uuid.UUID | None
    created_at: datetime
    deleted_at: datetime | None
    has_thumbnail: bool = Field(description="an image preview is ready (…/thumbnail)")


class AttachmentPage(OutputModel):
    items: list[AttachmentRead]
    next_cursor: str | None


class DirectUpload(InputModel):
    filename: str = Field(min_length=1, max_length=1000)
    size: Annotated[int, Field(ge=0), IsInteger] = Field(
        description="bytes; the store refuses any other length"
    )
    sha256: str = Field(
        pattern="^[0-9a-f]{64}$", description="hex digest; the store refuses other content"
    )


class DirectUploadGrant(OutputModel):
    """Send `method` to `url` with exactly `headers` and the file as the body, before
    `expires_at`; then confirm with `token`."""

    method: Literal["PUT"]
    url: str
    headers: dict[str, str]
    expires_at: datetime
    token: str


class DirectUploadConfirm(InputModel):
    token: str = Field(min_length=1, max_length=8000)
