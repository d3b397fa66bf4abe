from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, UUIDPrimaryKey, utcnow


class Notification(UUIDPrimaryKey, Base):
    """Something a user is told about. `cause` names what caused it (`<board>:<seq>` for an
    event, `reminder:<id>` for a reminder): one notification per (user, cause), however many
    times the cause is delivered, so workers may retry freely."""

    __tablename__ = "notifications"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    board_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boards.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("user_id", "cause", name="uq_notifications_user_id_cause"),
        Index("ix_notifications_user_id_created_at_id", "user_id", "created_at", "id"),
    )


class NotifiedUpTo(Base):
    """How far the notifier has handled each board's event log: an event arriving above the
    next expected seq means the stream lost some (Redis restarted empty, a capped stream
    trimmed them), and the missing ones are read from the log first."""

    __tablename__ = "notified_up_to"

    board_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger)


class EmailOutbox(UUIDPrimaryKey, Base):
    """An e-mail to send, written in the transaction that creates its notification (so both
    exist exactly once) and sent by the worker's `send_email` actor. `message_id` is fixed
    here, so a resend after an unclear failure carries the same Message-ID."""

    __tablename__ = "email_outbox"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "ix_email_outbox_pending",
            "created_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )
