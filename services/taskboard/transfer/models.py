from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, Timestamps, UUIDPrimaryKey

SOURCES = ("taskboard", "trello")
STATUSES = ("queued", "running", "done", "failed")


class ImportJob(UUIDPrimaryKey, Timestamps, Base):
    """A board import: the api validates the document and stores it here (as a taskboard
    document, Trello's already converted); a worker builds the board from it in one
    transaction, which also marks the job done, so a job makes at most one board."""

    __tablename__ = "import_jobs"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    # Tasks and comments written so far, of how many (reported while the worker builds).
    progress: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The board document to build (JSON); cleared once the job has finished either way.
    document: Mapped[str | None] = mapped_column(Text)
    # sha256 of the request body: the same document from the same user within
    # TASKBOARD_IMPORT_DEDUP_SECONDS is the same job.
    document_sha256: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    board_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("boards.id", ondelete="SET NULL"))
    # ImportResult (what was made, who could not be matched); notes from the conversion first.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("source IN ('taskboard', 'trello')", name="source"),
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_import_jobs_user_id_idempotency_key", "user_id", "idempotency_key"),
        Index("ix_import_jobs_user_id_document_sha256", "user_id", "document_sha256"),
        Index("ix_import_jobs_status_updated_at", "status", "updated_at"),
    )
