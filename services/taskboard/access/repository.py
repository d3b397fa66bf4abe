from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board, Membership


async def role_of(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool
) -> str | None:
    """The caller's role; with lock=True also takes the board row lock every write needs.
    NO KEY UPDATE: it serializes writers all the same, and inserts elsewhere that reference the
    board (their foreign-key check takes KEY SHARE) do not wait for it."""
    stmt = (
        select(Membership.role)
        .join(Board, Board.id == Membership.board_id)
        .where(Membership.board_id == board_id, Membership.user_id == user_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Board, key_share=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def role_and_history(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[str, int, str] | None:
    """The caller's role, the board's seq and the epoch it counts in (None: not a member)."""
    stmt = (
        select(Membership.role, Board.last_seq, Board.epoch)
        .join(Board, Board.id == Membership.board_id)
        .where(Membership.board_id == board_id, Membership.user_id == user_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], int(row[1]), str(row[2])) if row else None


async def current_seq(session: AsyncSession, board_id: uuid.UUID) -> int | None:
    """The board's last event seq; None when the board does not exist."""
    value = (
        await session.execute(select(Board.last_seq).where(Board.id == board_id))
    ).scalar_one_or_none()
    return int(value) if value is not None else None


async def history(session: AsyncSession, board_id: uuid.UUID) -> tuple[int, str] | None:
    """The board's last event seq and the epoch it counts in; None when it does not exist."""
    row = (
        await session.execute(select(Board.last_seq, Board.epoch).where(Board.id == board_id))
    ).first()
    return (int(row[0]), str(row[1])) if row else None
