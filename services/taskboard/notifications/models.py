from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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
        # Dead letters, listed newest first and counted.
        Index("ix_email_outbox_dead", "created_at", "id", postgresql_where=text("state = 'dead'")),
        # Deleted after the retention.
        Index(
            "ix_email_outbox_settled",
            "created_at",
            postgresql_where=text("state IN ('sent', 'skipped')"),
        ),
    )


class Reminder(UUIDPrimaryKey, Base):
    """A reminder of a task's due date for one assignee: `due_soon` (offset_minutes before)
    or `overdue` (at it). scheduled -> sent | cancelled. Unique per plan, so re-planning the
    same due date adds nothing; a new due date is a new plan."""

    __tablename__ = "reminders"

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    offset_minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    send_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text, default="scheduled")
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint(
            "task_id", "user_id", "kind", "offset_minutes", "due_at", name="uq_reminders_plan"
        ),
        Index("ix_reminders_task_id", "task_id"),
        Index(
            "ix_reminders_due",
            "send_at",
            postgresql_where=text("state = 'scheduled'"),
        ),
        Index("ix_reminders_settled", "due_at", postgresql_where=text("state <> 'scheduled'")),
    )


class NotificationPreference(Base):
    """What a user wants to hear about, and how; no row means the defaults."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    in_app: Mapped[list[str]] = mapped_column(ARRAY(Text))
    email: Mapped[list[str]] = mapped_column(ARRAY(Text))
    reminder_offsets: Mapped[list[int]] = mapped_column(ARRAY(Integer))
