from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from taskboard.access.roles import Role
from taskboard.core.schemas import OutputModel

Source = Literal["taskboard", "trello"]
Status = Literal["queued", "running", "done", "failed"]


class MemberAdded(BaseModel):
    email: str
    role: Role


class Unmatched(BaseModel):
    """Someone the document names who could not be given their part on the new board."""

    name: str = Field(description="the e-mail address, or the source's name for them")
    reason: str = Field(description="why: no e-mail address in the export, no such account")


class ImportResult(BaseModel):
    columns: int = 0
    labels: int = 0
    tasks: int = 0
    trashed: int = Field(0, description="tasks imported into the trash (archived in Trello)")
    comments: int = 0
    members_added: list[MemberAdded] = []
    unmatched_members: list[Unmatched] = Field(
        [], description="people not added: their assignments dropped, their comments unowned"
    )
    attachments_skipped: int = Field(
        0, description="file records of a JSON document (its files are not in it)"
    )
    notes: list[str] = Field([], description="what the conversion changed, e.g. cut titles")


class ImportJobRead(OutputModel):
    """An import: queued, then running (with progress), then done (`board_id`) or failed
    (`error`, and no board)."""

    id: uuid.UUID
    source: Source
    status: Status
    progress: int = Field(description="tasks and comments written so far")
    total: int = Field(description="tasks and comments to write")
    board_id: uuid.UUID | None = Field(description="the new board, once done")
    result: ImportResult | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
