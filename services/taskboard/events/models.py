from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, literal_column
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, utcnow


class BoardEvent(Base):
    """The board's gap-free event log: activity feed and transactional outbox at once."""

    __tablename__ = "board_events"

    board_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # No foreign key: the log outlives the accounts that wrote it.
    actor_id: Mapped[uuid.UUID | None]
    # The W3C traceparent of the request that wrote it: the worker's handling of the event
    # goes on in that trace, whether the api or the relay put it on the stream.
    trace_context: Mapped[str | None] = mapped_column(Text)
    # The relay scans recent events by time.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


# Which task an event is about: task.* events carry the task in data.task, comment.* events
# name it in data.task_id, and no other event has either key (null for them). Written out as
# SQL, constants and all, so that a query and the index below spell the same expression (bound
# parameters in its place would keep the planner from using the index); in the form PostgreSQL
# writes it back, so tests/test_migrations.py can hold the migration to it.
EVENT_TASK_ID = literal_column("coalesce((data -> 'task') ->> 'id', data ->> 'task_id')", Text)

# A task's activity (GET /tasks/{id}/events), newest first, without reading the board's
# whole log: only events about a task are indexed.
Index(
    "ix_board_events_task_id_seq",
    EVENT_TASK_ID,
    BoardEvent.seq,
    postgresql_where=EVENT_TASK_ID.is_not(None),
)
