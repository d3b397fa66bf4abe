"""The board event log: the gap-free per-board seq, appending in the writer's transaction,
and reading ranges back (replay, gap filling, the relay)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import Insert, Select, Table, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board
from taskboard.core.db import UnitOfWork
from taskboard.core.telemetry import current_traceparent
from taskboard.events.models import EVENT_TASK_ID, BoardEvent

ReadT = TypeVar("ReadT", bound=BaseModel)


async def append(
    uow: UnitOfWork,
    *,
    board_id: uuid.UUID,
    type: str,
    data: dict[str, Any],
    actor_id: uuid.UUID | None,
    alongside: Sequence[Insert] = (),
    tasks_added: int = 0,
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
    traceparent = current_traceparent()
    bumped = (
        update(boards)
        .where(boards.c.id == board_id)
        .values(
            last_seq=boards.c.last_seq + 1,
            updated_at=func.now(),
            **({"task_count": boards.c.task_count + tasks_added} if tasks_added else {}),
        )
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
        literal(traceparent, log.c.trace_context.type),
    )
    columns = ["board_id", "seq", "type", "data", "actor_id", "created_at", "trace_context"]
    statement = insert(log).from_select(columns, row).returning(log.c.seq, log.c.created_at)
    for i, extra in enumerate(alongside):
        statement = statement.add_cte(extra.cte(f"alongside_{i}"))
    seq, created_at = (await uow.session.execute(statement)).one()
    event = BoardEvent(
        board_id=board_id,
        seq=seq,
        type=type,
        data=data,
        actor_id=actor_id,
        created_at=created_at,
        trace_context=traceparent,
    )
    uow.events.append(event)
    return event


async def record(
    uow: UnitOfWork,
    schema: type[ReadT],
    row: object,
    *,
    board_id: uuid.UUID,
    type: str,
    actor_id: uuid.UUID | None,
    under: str | None = None,
    **extra: Any,
) -> ReadT:
    """The tail of most writes: flush the changed rows, build the read model of `row`, and log
    it (as the event's data, or under the key `under`, plus `extra` fields such as what
    changed). Returns the read model, which is also the response body."""
    await uow.session.flush()
    read = schema.model_validate(row)
    dumped = read.model_dump(mode="json")
    data = {under: dumped, **extra} if under else {**dumped, **extra}
    await append(uow, board_id=board_id, type=type, data=data, actor_id=actor_id)
    return read


async def redact(
    uow: UnitOfWork, *, board_id: uuid.UUID, types: Sequence[str], id: uuid.UUID, field: str
) -> int:
    """Blank `field` in the board's earlier events of `types` about `id` (a deleted comment's
    text must not stay readable through the log). Returns how many events were changed."""
    stmt = (
        update(BoardEvent)
        .where(
            BoardEvent.board_id == board_id,
            BoardEvent.type.in_(types),
            BoardEvent.data["id"].astext == str(id),
        )
        .values(
            data=BoardEvent.data.op("||", return_type=JSONB)(func.jsonb_build_object(field, ""))
        )
        .execution_options(synchronize_session=False)
    )
    result = await uow.session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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


def about_task(
    *, board_id: uuid.UUID, task_id: uuid.UUID, before: int | None, limit: int
) -> Select[BoardEvent]:
    """The board's events about one task (task.* and comment.* events) with seq < `before`,
    newest first: read from the index on EVENT_TASK_ID, never the board's whole log."""
    task_of_event = EVENT_TASK_ID  # a column expression (what the index holds)
    stmt = select(BoardEvent).where(task_of_event == str(task_id), BoardEvent.board_id == board_id)
    if before is not None:
        stmt = stmt.where(BoardEvent.seq < before)
    return stmt.order_by(BoardEvent.seq.desc()).limit(limit)


async def list_about_task(
    session: AsyncSession,
    *,
    board_id: uuid.UUID,
    task_id: uuid.UUID,
    before: int | None,
    limit: int,
) -> list[BoardEvent]:
    stmt = about_task(board_id=board_id, task_id=task_id, before=before, limit=limit)
    return list((await session.execute(stmt)).scalars())
