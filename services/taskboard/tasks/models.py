from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, Timestamps, UUIDPrimaryKey

PRIORITIES = ("none", "low", "medium", "high", "urgent")


class Task(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tasks"

    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(50))
    # Fractional-index key: byte order ("C" collation) is the order within a column.
    position: Mapped[str] = mapped_column(String(64, collation="C"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    priority: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Live comments on the task, kept by the statements that create and delete comments (in
    # their transaction): the snapshot reads it with the task, no count(*). Not the task's own
    # field: changing it leaves `version` and `updated_at` alone.
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))",
            persisted=True,
        ),
        deferred=True,
    )

    __table_args__ = (
        ForeignKeyConstraint(
            ["board_id", "status"],
            ["board_columns.board_id", "board_columns.key"],
            name="fk_tasks_board_id_status_board_columns",
            onupdate="CASCADE",
        ),
        CheckConstraint("priority IN ('none', 'low', 'medium', 'high', 'urgent')", name="priority"),
        CheckConstraint("start_at IS NULL OR due_at IS NULL OR start_at <= due_at", name="dates"),
        Index(
            "ix_tasks_board_id_status_position",
            "board_id",
            "status",
            "position",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_tasks_board_id_created_at_id", "board_id", "created_at", "id"),
        Index("ix_tasks_board_id_due_at", "board_id", "due_at"),
        Index("ix_tasks_search", "search", postgresql_using="gin"),
    )


class TaskAssignee(Base):
    __tablename__ = "task_assignees"

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TaskLabel(Base):
    __tablename__ = "task_labels"

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
