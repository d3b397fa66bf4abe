from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board, Membership


@dataclass(frozen=True)
class Access:
    """The caller's role on a board, and whether the board is archived (read-only)."""

    role: str
    archived: bool


async def role_of(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool
) -> Access | None:
    """The caller's role (None: not a member) and whether the board is archived; with
    lock=True also takes the board row lock every write needs, so the archived flag it reads
    cannot change before the write commits (unarchiving takes the same lock).
    NO KEY UPDATE: it serializes writers all the same, and inserts elsewhere that reference the
    board (their foreign-key check takes KEY SHARE) do not wait for it."""
    stmt = (
        select(Membership.role, Board.archived_at.is_not(None))
        .join(Board, Board.id == Membership.board_id)
        .where(Membership.board_id == board_id, Membership.user_id == user_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Board, key_share=True)
    row = (await session.execute(stmt)).first()
    return Access(str(row[0]), bool(row[1])) if row else None


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
