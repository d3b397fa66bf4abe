"""All SQL for tasks. Reads return TaskRead, with assignees and labels gathered in one query."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.tasks.models import Task, TaskAssignee, TaskLabel
from taskboard.tasks.schemas import TaskRead, TaskSort

_ASSIGNEES = (
    select(func.array_agg(TaskAssignee.user_id))
    .where(TaskAssignee.task_id == Task.id)
    .scalar_subquery()
)
_LABELS = (
    select(func.array_agg(TaskLabel.label_id)).where(TaskLabel.task_id == Task.id).scalar_subquery()
)
READ_COLUMNS = [c for c in Task.__table__.c if c.key != "search"]


def _select() -> Select[Any]:
    return select(*READ_COLUMNS, _ASSIGNEES.label("assignee_ids"), _LABELS.label("labels"))


def _to_read(row: Any) -> TaskRead:
    data = dict(row._mapping)
    data["assignee_ids"] = sorted(data["assignee_ids"] or [])
    data["labels"] = sorted(data["labels"] or [])
    return TaskRead.model_validate(data)


async def read_rows(
    session: AsyncSession, *, board_id: uuid.UUID, live_only: bool
) -> list[TaskRead]:
    stmt = _select().where(Task.board_id == board_id)
    if live_only:
        stmt = stmt.where(Task.deleted_at.is_(None))
    stmt = stmt.order_by(Task.status, Task.position, Task.id)
    return [_to_read(row) for row in (await session.execute(stmt)).all()]


async def read_one(session: AsyncSession, task_id: uuid.UUID) -> TaskRead | None:
    row = (await session.execute(_select().where(Task.id == task_id))).first()
    return _to_read(row) if row else None


async def board_of(session: AsyncSession, task_id: uuid.UUID) -> uuid.UUID | None:
    stmt = select(Task.board_id).where(Task.id == task_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_fresh(session: AsyncSession, task_id: uuid.UUID) -> Task | None:
    stmt = select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def last_position(session: AsyncSession, board_id: uuid.UUID, status: str) -> str | None:
    stmt = select(func.max(Task.position)).where(
        Task.board_id == board_id, Task.status == status, Task.deleted_at.is_(None)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def neighbour_position(
    session: AsyncSession,
    board_id: uuid.UUID,
    status: str,
    position: str,
    *,
    after: bool,
    exclude: uuid.UUID,
) -> str | None:
    """The position right after (or before) `position` in the column, skipping `exclude`."""
    base = select(Task.position).where(
        Task.board_id == board_id,
        Task.status == status,
        Task.deleted_at.is_(None),
        Task.id != exclude,
    )
    if after:
        stmt = base.where(Task.position > position).order_by(Task.position).limit(1)
    else:
        stmt = base.where(Task.position < position).order_by(Task.position.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_assignees(
    session: AsyncSession, task_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(TaskAssignee).where(TaskAssignee.task_id == task_id))
    await add_assignees(session, task_id, user_ids)


async def add_assignees(
    session: AsyncSession, task_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> None:
    if user_ids:
        await session.execute(
            insert(TaskAssignee), [{"task_id": task_id, "user_id": u} for u in set(user_ids)]
        )


async def set_labels(
    session: AsyncSession, task_id: uuid.UUID, label_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(TaskLabel).where(TaskLabel.task_id == task_id))
    await add_labels(session, task_id, label_ids)


async def add_labels(
    session: AsyncSession, task_id: uuid.UUID, label_ids: Sequence[uuid.UUID]
) -> None:
    if label_ids:
        await session.execute(
            insert(TaskLabel), [{"task_id": task_id, "label_id": lbl} for lbl in set(label_ids)]
        )


@dataclass(frozen=True)
class TaskFilter:
    status: Sequence[str] = ()
    assignee_id: uuid.UUID | None = None
    label_id: uuid.UUID | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    q: str | None = None
    deleted: bool = False


_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _sort_keys(sort: TaskSort) -> tuple[list[Any], bool]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "position":
        return [Task.status, Task.position, Task.id], False
    if name == "due_at":
        return [func.coalesce(Task.due_at, _FAR_FUTURE), Task.id], descending
    column = Task.created_at if name == "created_at" else Task.updated_at
    return [column, Task.id], descending


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_text(value: object) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 200:
        raise ValueError("bad text")
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
    return value


def _cursor_time(value: object) -> datetime:
    moment = datetime.fromisoformat(_cursor_text(value))
    if moment.tzinfo is None:
        raise ValueError("naive time")
    moment = moment.astimezone(UTC)  # OverflowError at the calendar's edges
    if not 1970 <= moment.year <= _FAR_FUTURE.year:
        raise ValueError("time out of range")
    return moment


def _decode_cursor(cursor: str, sort: TaskSort) -> list[Any]:
    """Cursors come back from clients: every value is checked before it reaches SQL."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list):
            raise ValueError("bad cursor")
        if sort.lstrip("-") == "position":
            status, position, ident = values
            return [_cursor_text(status), _cursor_text(position), uuid.UUID(_cursor_text(ident))]
        moment, ident = values
        return [_cursor_time(moment), uuid.UUID(_cursor_text(ident))]
    except (ValueError, TypeError, OverflowError):
        raise ValidationFailed(
            "Invalid cursor", fields=[FieldProblem("cursor", "format", "is not a cursor we issued")]
        ) from None


async def page(
    session: AsyncSession,
    *,
    board_id: uuid.UUID,
    filters: TaskFilter,
    sort: TaskSort,
    cursor: str | None,
    limit: int,
) -> tuple[list[TaskRead], str | None]:
    keys, descending = _sort_keys(sort)
    stmt = _select().add_columns(*[k.label(f"_k{i}") for i, k in enumerate(keys)])
    stmt = stmt.where(Task.board_id == board_id)
    stmt = stmt.where(
        Task.deleted_at.is_not(None) if filters.deleted else Task.deleted_at.is_(None)
    )
    if filters.status:
        stmt = stmt.where(Task.status.in_(filters.status))
    if filters.assignee_id:
        stmt = stmt.where(
            Task.id.in_(
                select(TaskAssignee.task_id).where(TaskAssignee.user_id == filters.assignee_id)
            )
        )
    if filters.label_id:
        stmt = stmt.where(
            Task.id.in_(select(TaskLabel.task_id).where(TaskLabel.label_id == filters.label_id))
        )
    if filters.due_after:
        stmt = stmt.where(Task.due_at >= filters.due_after)
    if filters.due_before:
        stmt = stmt.where(Task.due_at < filters.due_before)
    if filters.q:
        stmt = stmt.where(Task.search.op("@@")(func.websearch_to_tsquery("simple", filters.q)))
    if cursor:
        after = _decode_cursor(cursor, sort)
        cmp = tuple_(*keys) < tuple_(*after) if descending else tuple_(*keys) > tuple_(*after)
        stmt = stmt.where(cmp)
    stmt = stmt.order_by(*[k.desc() if descending else k for k in keys]).limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    items = [_to_read(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]._mapping
        next_cursor = encode_cursor([last[f"_k{i}"] for i in range(len(keys))])
    return items, next_cursor
