from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, Timestamps, UUIDPrimaryKey


class Label(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "labels"

    board_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    color: Mapped[str] = mapped_column(String(7), default="#6b7280", server_default="#6b7280")

    __table_args__ = (
        Index("uq_labels_board_id_name_lower", board_id, func.lower(name), unique=True),
    )
