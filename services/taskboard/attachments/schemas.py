from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from taskboard.core.schemas import OutputModel


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
