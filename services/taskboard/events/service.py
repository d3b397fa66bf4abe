"""Appending to and reading a board's event log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.auth.principal import Principal
from taskboard.boards.access import require_role
from taskboard.boards.models import Board
from taskboard.core.db import UnitOfWork
from taskboard.events.models import BoardEvent
from taskboard.events.schemas import EventPage, EventRead


async def append(
    uow: UnitOfWork,
    *,
    board_id: uuid.UUID,
    type: str,
    data: dict[str, Any],
    actor_id: uuid.UUID | None,
    alongside: Sequence[Insert] = (),
) -> BoardEvent:
    """Take the board's next seq and write the event in the caller's transaction.

    The UPDATE locks the board row until commit, so concurrent writers to one board line up
    and seq is gap-free: a rolled-back transaction gives its number back with its row lock.
    Bump and insert are one statement (a data-modifying CTE): one round trip per write.
    `alongside` inserts run in that same statement (a create writes its row with its event).
    The event's time is the database's clock: the relay compares it with `now()`, and api pods'
    clocks may drift.
    """
    boards, log = cast(Table, Board.__table__), cast(Table, BoardEvent.__table__)
    bumped = (
        update(boards)
        .where(boards.c.id == board_id)
        .values(last_seq=boards.c.last_seq + 1, updated_at=func.now())
        .returning(boards.c.last_seq)
        .cte("bumped")
    )
    row = select(
        literal(board_id, log.c.board_id.type),
        bumped.c.last_seq,
        literal(type, log.c.type.type),
        literal(data, log.c.data.type),
        literal(actor_id, log.c.actor_id.type),
        func.clock_timestamp(),
    )
    columns = ["board_id", "seq", "type", "data", "actor_id", "created_at"]
    statement = insert(log).from_select(columns, row).returning(log.c.seq, log.c.created_at)
    for i, extra in enumerate(alongside):
        statement = statement.add_cte(extra.cte(f"alongside_{i}"))
    seq, created_at = (await uow.session.execute(statement)).one()
    event = BoardEvent(
        board_id=board_id, seq=seq, type=type, data=data, actor_id=actor_id, created_at=created_at
    )
    uow.events.append(event)
    return event


async def page_visible(
    uow: UnitOfWork, principal: Principal, *, board_id: uuid.UUID, after: int, limit: int
) -> EventPage:
    await require_role(uow, board_id, principal, "viewer")
    last_seq = (
        await uow.session.execute(select(Board.last_seq).where(Board.id == board_id))
    ).scalar_one()
    items = await list_between(
        uow.session, board_id=board_id, after=after, upto=last_seq, limit=limit
    )
    reads = [EventRead.model_validate(e) for e in items]
    more = bool(reads) and reads[-1].seq < last_seq
    return EventPage(items=reads, next_after=reads[-1].seq if more else None, last_seq=last_seq)


async def list_between(
    session: AsyncSession, *, board_id: uuid.UUID, after: int, upto: int, limit: int
) -> list[BoardEvent]:
    """Events with after < seq <= upto, in order (replay, gap filling and the relay)."""
    stmt = (
        select(BoardEvent)
        .where(BoardEvent.board_id == board_id, BoardEvent.seq > after, BoardEvent.seq <= upto)
        .order_by(BoardEvent.seq)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
