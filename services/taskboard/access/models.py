from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, Timestamps, UUIDPrimaryKey, utcnow

ROLES = ("viewer", "member", "admin", "owner")


def new_epoch() -> str:
    return secrets.token_hex(6)


class Board(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "boards"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The last event's seq: bumped with UPDATE ... RETURNING in every writing transaction.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Which history `seq` counts in: a new one when the history is rewritten (the board is
    # recreated, the database restored: `taskboard rotate-epochs`), so a client holding seqs
    # from another history resyncs instead of trusting them.
    epoch: Mapped[str] = mapped_column(String(16), default=new_epoch)
    # Tasks ever created on the board and still stored (the trash included), kept by the
    # statement that creates one: the per-board quota costs no count(*) on the hot write.
    task_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # Set: the board is archived, read-only (access.service.authorize refuses every write but
    # unarchiving and deleting it) and listed apart (GET /boards?archived=true).
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    __tablename__ = "board_members"

    board_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'member', 'admin', 'owner')", name="role"),
    )
