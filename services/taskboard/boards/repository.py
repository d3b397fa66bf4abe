from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.boards.models import Board, Membership
from taskboard.users.models import User


async def role_of(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool
) -> str | None:
    """The caller's role; with lock=True also takes the board row lock every write needs."""
    stmt = (
        select(Membership.role)
        .join(Board, Board.id == Membership.board_id)
        .where(Membership.board_id == board_id, Membership.user_id == user_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Board)
    return (await session.execute(stmt)).scalar_one_or_none()


async def role_and_seq(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[str, int] | None:
    stmt = (
        select(Membership.role, Board.last_seq)
        .join(Board, Board.id == Membership.board_id)
        .where(Membership.board_id == board_id, Membership.user_id == user_id)
    )
    row = (await session.execute(stmt)).first()
    return (row[0], int(row[1])) if row else None


async def boards_of(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Board, str]]:
    stmt = (
        select(Board, Membership.role)
        .join(Membership, Membership.board_id == Board.id)
        .where(Membership.user_id == user_id)
        .order_by(Board.created_at.desc(), Board.id)
    )
    return [(board, role) for board, role in (await session.execute(stmt)).all()]


async def members(session: AsyncSession, board_id: uuid.UUID) -> list[tuple[Membership, User]]:
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.board_id == board_id)
        .order_by(Membership.created_at, User.id)
    )
    return [(m, u) for m, u in (await session.execute(stmt)).all()]


async def membership(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    return await session.get(Membership, (board_id, user_id))
