from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from taskboard.access.roles import Role
from taskboard.boards.schemas import MemberRead
from taskboard.columns.schemas import ColumnRead
from taskboard.core.schemas import OutputModel
from taskboard.labels.schemas import LabelRead
from taskboard.tasks.schemas import TaskRead


class SnapshotBody(OutputModel):
    """The part of a snapshot that is the same for every caller (cached per seq)."""

    id: uuid.UUID
    name: str
    description: str
    seq: int
    epoch: str  # the history seq counts in: resubscribe with it (see docs/realtime-protocol.md)
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None  # set while the board is archived (read-only)
    columns: list[ColumnRead]
    labels: list[LabelRead]
    members: list[MemberRead]
    covers: dict[uuid.UUID, uuid.UUID] = Field(
        description="task id -> the attachment whose thumbnail the card shows (its newest "
        "image with one); kept current by attachment.* events"
    )
    tasks: list[TaskRead]  # last: the build splices PostgreSQL's JSON array in here


class BoardSnapshot(SnapshotBody):
    """Everything a client needs to render the board, consistent as of `seq`."""

    role: Role
