"""The board event log: the gap-free per-board seq, appending in the writer's transaction,
and reading ranges back (replay, gap filling, the relay)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import Insert, Select, Table, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board
from taskboard.core.db import Driver, UnitOfWork
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


@dataclass(frozen=True, slots=True)
class Appended:
    """An event this transaction wrote, as the publisher reads it (a streams.LoggedEvent)."""

    board_id: uuid.UUID
    seq: int
    type: str
    data: dict[str, Any]
    actor_id: uuid.UUID | None
    created_at: datetime
    trace_context: str | None


@functools.cache
def _appending(alongside: str, used: int) -> str:
    """`alongside` (CTEs whose parameters are $1..$used) followed by the seq bump and the event
    insert of `append`, as one statement: its text is the same for every call of a caller, so
    asyncpg prepares it once per connection."""
    n = used
    return f"""WITH {alongside + "," if alongside else ""}
    bumped AS (
        UPDATE boards SET last_seq = last_seq + 1, updated_at = now(),
                          task_count = task_count + ${n + 1}
        WHERE id = ${n + 2} RETURNING last_seq
    )
    INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at, trace_context)
    SELECT ${n + 2}, bumped.last_seq, ${n + 3}, ${n + 4}::jsonb, ${n + 5}, clock_timestamp(),
           ${n + 6}
    FROM bumped
    RETURNING seq, created_at"""  # noqa: S608 - only our own SQL is formatted in


async def append_sql(
    uow: UnitOfWork,
    driver: Driver,
    *,
    board_id: uuid.UUID,
    type: str,
    data: dict[str, Any],
    actor_id: uuid.UUID | None,
    alongside: str = "",
    args: Sequence[Any] = (),
    tasks_added: int = 0,
) -> Appended:
    """`append` for the hottest writes, as constant SQL on the driver connection (see
    core.db.Driver): the same seq bump and event row, in the same single statement with the
    rows the event is about (`alongside`: CTEs taking `args` as $1, $2, ...)."""
    traceparent = current_traceparent()
    seq, created_at = await _one(
        driver,
        _appending(alongside, len(args)),
        *args,
        tasks_added,
        board_id,
        type,
        json.dumps(data, separators=(",", ":")),
        actor_id,
        traceparent,
    )
    event = Appended(board_id, seq, type, data, actor_id, created_at, traceparent)
    uow.events.append(event)
    return event


def appended(
    uow: UnitOfWork,
    *,
    board_id: uuid.UUID,
    seq: int,
    type: str,
    data: dict[str, Any],
    actor_id: uuid.UUID | None,
    created_at: datetime,
    trace_context: str | None,
) -> Appended:
    """An event a statement of the caller's wrote itself (taskboard_create_task takes the seq
    and writes the row as `append_sql` does), handed to the unit of work to publish after
    commit."""
    event = Appended(board_id, seq, type, data, actor_id, created_at, trace_context)
    uow.events.append(event)
    return event


async def _one(driver: Driver, sql: str, *args: Any) -> Sequence[Any]:
    row = await driver.fetchrow(sql, *args)
    assert row is not None  # the board row is locked by the caller: it exists
    return row


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
