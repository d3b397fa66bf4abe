from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board, Membership
from taskboard.users.models import User


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
