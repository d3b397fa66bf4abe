from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board, Membership
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.users.models import User


async def boards_of(
    session: AsyncSession, user_id: uuid.UUID, page: PageRequest, *, archived: bool
) -> tuple[list[tuple[Board, str]], str | None]:
    """The user's boards, archived or not, newest first."""
    stmt = (
        select(Board, Membership.role)
        .join(Membership, Membership.board_id == Board.id)
        .where(
            Membership.user_id == user_id,
            Board.archived_at.is_not(None) if archived else Board.archived_at.is_(None),
        )
    )
    return await keyset_page(
        session,
        stmt,
        keys=[Board.created_at, Board.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: (row[0], row[1]),
        descending=True,
    )


def _members(board_id: uuid.UUID) -> Select[Membership, User]:
    return (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.board_id == board_id)
    )


async def members_page(
    session: AsyncSession, board_id: uuid.UUID, page: PageRequest
) -> tuple[list[tuple[Membership, User]], str | None]:
    return await keyset_page(
        session,
        _members(board_id),
        keys=[Membership.created_at, Membership.user_id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: (row[0], row[1]),
    )


async def members(session: AsyncSession, board_id: uuid.UUID) -> list[tuple[Membership, User]]:
    stmt = _members(board_id).order_by(Membership.created_at, Membership.user_id)
    return [(m, u) for m, u in (await session.execute(stmt)).all()]


async def membership(
    session: AsyncSession, board_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    return await session.get(Membership, (board_id, user_id))
