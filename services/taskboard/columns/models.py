from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, Timestamps, UUIDPrimaryKey


class BoardColumn(UUIDPrimaryKey, Timestamps, Base):
    """A board's status: tasks refer to it by (board_id, key)."""

    __tablename__ = "board_columns"

    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[str] = mapped_column(String(64, collation="C"))
    wip_limit: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("board_id", "key"),
        CheckConstraint("wip_limit IS NULL OR wip_limit > 0", name="wip_limit_positive"),
    )
