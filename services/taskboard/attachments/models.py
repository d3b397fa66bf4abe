from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, UUIDPrimaryKey, utcnow


class Attachment(UUIDPrimaryKey, Base):
    """A file on a task. The row is written after its object is stored, in the transaction that
    logs `attachment.added`; an object without a row (a crash between the two) is collected."""

    __tablename__ = "attachments"

    board_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boards.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    # Where the bytes are; never reused, so a collected key can never hit a new file.
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    filename: Mapped[str] = mapped_column(Text)
    # Sniffed from the content, never taken from the name or the uploader's claim.
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Removed: hidden at once, the row and the bytes purged after the trash's retention.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A small preview of an image, made by the worker after the upload.
    thumbnail_key: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (
        Index("ix_attachments_task_id_created_at", "task_id", "created_at"),
        # The retention purge's, oldest removal first; live rows are not in it.
        Index(
            "ix_attachments_deleted_at",
            "deleted_at",
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
    )
