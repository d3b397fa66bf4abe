from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text
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
