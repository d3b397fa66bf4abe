"""All SQL for tasks. Reads return TaskRead, with assignees and labels gathered in one query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Select, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.repository import Access
from taskboard.core.db import Driver
from taskboard.core.ordering import key_between
from taskboard.core.paging import LATEST, Kind, PageRequest, keyset_page
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


def _iso(column: str) -> str:
    """A timestamp as pydantic writes it: UTC with Z, microseconds only when there are some."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"WHEN date_trunc('second', {column}) = {column} "
        f"""THEN to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )


# The board's live tasks as one JSON array in TaskRead's form, built by PostgreSQL: for a
# 5,000-task board this is several times faster than rows -> objects -> JSON in Python.
# tests/api/test_snapshot.py holds it to the same JSON as GET /tasks/{id}.
_LIVE_TASKS_JSON = text(
    f"""
    SELECT coalesce(json_agg(json_build_object(
        'id', t.id, 'board_id', t.board_id, 'status', t.status, 'position', t.position,
        'title', t.title, 'description', t.description, 'priority', t.priority,
        'assignee_ids', coalesce((SELECT json_agg(a.user_id ORDER BY a.user_id)
                                  FROM task_assignees a WHERE a.task_id = t.id), '[]'::json),
        'labels', coalesce((SELECT json_agg(l.label_id ORDER BY l.label_id)
                            FROM task_labels l WHERE l.task_id = t.id), '[]'::json),
        'start_at', {_iso("t.start_at")}, 'due_at', {_iso("t.due_at")},
        'created_by', t.created_by, 'updated_by', t.updated_by,
        'created_at', {_iso("t.created_at")}, 'updated_at', {_iso("t.updated_at")},
        'deleted_at', {_iso("t.deleted_at")}, 'version', t.version,
        'comment_count', t.comment_count
    ) ORDER BY t.status, t.position, t.id), '[]'::json)::text
    FROM tasks t
    WHERE t.board_id = :board_id AND t.deleted_at IS NULL
    """  # noqa: S608 - only our own column names are formatted in
)


async def live_tasks_json(session: AsyncSession, board_id: uuid.UUID) -> str:
    connection = await session.connection()
    result = await connection.execute(_LIVE_TASKS_JSON, {"board_id": board_id})
    return str(result.scalar_one())


async def read_one(session: AsyncSession, task_id: uuid.UUID) -> TaskRead | None:
    row = (await session.execute(_select().where(Task.id == task_id))).first()
    return _to_read(row) if row else None


@dataclass(frozen=True)
class CreationTarget:
    access: Access  # the caller's role, and whether the board is archived
    column_key: str | None
    wip_limit: int | None
    task_count: int
    # The column's last live position and live count, when the lock's statement could read
    # them as of the lock (see lock_for_create); None: ask column_tail_for_create.
    tail: tuple[str | None, int] | None


# The create path's statements are SQL on the driver connection (core.db.Driver): a create is
# the hottest write, and these are what tasks.models and events.models map (tests/api hold the
# rows and the responses to what the ORM paths read back).
#
# The lock's statement also reads the column's tail, from the snapshot it started with. That
# snapshot predates the lock: if another writer committed in between (we waited for it, or it
# slipped in before we asked), the tail may miss its task. Every write that changes a board's
# tasks bumps its seq (the snapshot cache relies on the same rule), so comparing the locked
# row's seq (the latest: PostgreSQL rechecks a locked row once the lock is granted) with the
# same row read unlocked (`seen`, the snapshot's) tells: equal, the tail is exact; else the
# caller reads it again after the lock. Uncontended creates save a round trip; contended ones
# cost what they did.
_LOCK_FOR_CREATE = """
    SELECT m.role, b.archived_at IS NOT NULL, col.key, col.wip_limit, b.task_count,
           b.last_seq = seen.last_seq, tail.last, tail.live
    FROM board_members m
    JOIN boards b ON b.id = m.board_id
    JOIN boards seen ON seen.id = b.id
    LEFT JOIN LATERAL (
        SELECT c.key, c.wip_limit FROM board_columns c
        WHERE c.board_id = b.id {column}
        ORDER BY c.position
        LIMIT 1
    ) col ON true
    LEFT JOIN LATERAL (
        SELECT max(t.position) AS last, count(*) AS live FROM tasks t
        WHERE t.board_id = b.id AND t.status = col.key AND t.deleted_at IS NULL
    ) tail ON true
    WHERE m.board_id = $1 AND m.user_id = $2
    FOR NO KEY UPDATE OF b
"""
_LOCK_FOR_CREATE_FIRST = _LOCK_FOR_CREATE.format(column="")
_LOCK_FOR_CREATE_NAMED = _LOCK_FOR_CREATE.format(column="AND c.key = $3")

_COLUMN_TAIL = """
    SELECT max(position), count(*) FROM tasks
    WHERE board_id = $1 AND status = $2 AND deleted_at IS NULL
"""

# The new task and its links, as CTEs of the statement that also takes the seq and writes the
# event (events.log.append_sql). unnest() of an empty array inserts no link: one text for
# every create, prepared once per connection.
INSERT_NEW = """
    new_task AS (
        INSERT INTO tasks (id, board_id, status, position, title, description, priority,
                           start_at, due_at, created_by, updated_by, created_at, updated_at,
                           deleted_at, version, comment_count)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $11, NULL, 1, 0)
    ),
    new_assignees AS (
        INSERT INTO task_assignees (task_id, user_id) SELECT $1, unnest($12::uuid[])
    ),
    new_labels AS (
        INSERT INTO task_labels (task_id, label_id) SELECT $1, unnest($13::uuid[])
    )
"""


def insert_new_args(read: TaskRead) -> tuple[Any, ...]:
    """INSERT_NEW's parameters for the task `read` describes (version 1, no comments)."""
    return (
        read.id, read.board_id, read.status, read.position, read.title, read.description,
        read.priority, read.start_at, read.due_at, read.created_by, read.created_at,
        read.assignee_ids, read.labels,
    )  # fmt: skip


# The create in one statement: migration 0017's taskboard_create_task, which runs what
# lock_for_create, column_tail_for_create and INSERT_NEW (with events.log.append_sql) send,
# inside PostgreSQL. lock_for_create and the rest stay for the rare create it leaves to them.
_CREATE_TASK = """
    SELECT * FROM taskboard_create_task(
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16)
"""


async def prepare_create(driver: Driver) -> None:
    """Run the create once on a fresh connection, for a board nobody is a member of (so it
    writes nothing): asyncpg learns the statement's types (a catalogue query of tens of ms,
    once per connection) and the backend compiles the function and loads the tables it
    reads, before a request waits for any of it."""
    nobody = uuid.UUID(int=0)
    await driver.raw.fetchrow(
        _CREATE_TASK,
        nobody, nobody, None, ["member"], 0, nobody, "", "", "none", None, None,
        datetime.now(UTC), [], [], "{}", None,
    )  # fmt: skip


@dataclass(frozen=True)
class OneTripCreate:
    """What taskboard_create_task read and, when it wrote the task, what it wrote."""

    target: CreationTarget  # tail: None; `live` holds the column's live count as it read it
    live: int | None
    members: frozenset[uuid.UUID] | None  # the assignees that are members, when it looked
    known: frozenset[uuid.UUID] | None  # the labels that are the board's, when it looked
    position: str | None  # the rest are None unless it wrote
    seq: int | None
    created_at: datetime | None


async def create_in_one_trip(
    driver: Driver,
    read: TaskRead,
    *,
    status: str | None,
    writers: Sequence[str],
    quota: int,
    data: str,
    trace_context: str | None,
    alone: bool,
) -> OneTripCreate | None:
    """Run taskboard_create_task for the task `read` describes (its status and position are
    the function's to choose; `data` is the event's JSON, whose task's status and position it
    sets); None when the caller is not a member. `alone`: as its own transaction when the
    unit of work has begun none (core.db.Driver.fetchrow)."""
    row = await driver.fetchrow(
        _CREATE_TASK,
        read.board_id, read.created_by, status, list(writers), quota, read.id, read.title,
        read.description, read.priority, read.start_at, read.due_at, read.created_at,
        read.assignee_ids, read.labels, data, trace_context,
        alone=alone,
    )  # fmt: skip
    if row is None:
        return None
    target = CreationTarget(
        Access(str(row[0]), bool(row[1])), row[2], row[3], int(row[4]), tail=None
    )
    return OneTripCreate(
        target,
        None if row[5] is None else int(row[5]),
        None if row[6] is None else frozenset(row[6]),
        None if row[7] is None else frozenset(row[7]),
        row[8],
        row[9],
        row[10],
    )


async def lock_for_create(
    driver: Driver, *, board_id: uuid.UUID, user_id: uuid.UUID, status: str | None
) -> CreationTarget | None:
    """Lock the board (every write to it waits here) and read the caller's role, whether the
    board is archived, and the target column (`status`, or the first column) in one round
    trip, and the column's tail when it is exact; None when not a member. The lock is
    `role_of`'s (NO KEY UPDATE); the caller hands the role and the flag to
    `access.service.authorize`, as every other write does."""
    if status is None:
        row = await driver.fetchrow(_LOCK_FOR_CREATE_FIRST, board_id, user_id)
    else:
        row = await driver.fetchrow(_LOCK_FOR_CREATE_NAMED, board_id, user_id, status)
    if row is None:
        return None
    access = Access(str(row[0]), bool(row[1]))
    tail = (row[6], int(row[7])) if row[5] and row[2] is not None else None
    return CreationTarget(access, row[2], row[3], int(row[4]), tail)


async def column_tail_for_create(
    driver: Driver, *, board_id: uuid.UUID, status: str
) -> tuple[str | None, int]:
    """`column_tail` on the driver connection, for the create path."""
    row = await driver.fetchrow(_COLUMN_TAIL, board_id, status)
    assert row is not None  # an aggregate always answers one row
    return row[0], int(row[1])


async def column_tail(
    session: AsyncSession, *, board_id: uuid.UUID, status: str
) -> tuple[str | None, int]:
    """The last live position in a column and its live task count. A statement of its own,
    after the lock: its snapshot then includes every write that held the lock before us."""
    live = (Task.board_id == board_id) & (Task.status == status) & Task.deleted_at.is_(None)
    stmt = select(func.max(Task.position), func.count()).where(live)
    last, count = (await session.execute(stmt)).one()
    return last, int(count)


async def board_of(session: AsyncSession, task_id: uuid.UUID) -> uuid.UUID | None:
    stmt = select(Task.board_id).where(Task.id == task_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_deleted(session: AsyncSession, task_id: uuid.UUID) -> bool:
    stmt = select(Task.deleted_at.is_not(None)).where(Task.id == task_id)
    return bool((await session.execute(stmt)).scalar_one_or_none())


async def count_comment(session: AsyncSession, task_id: uuid.UUID, delta: int) -> None:
    """A comment on the task was created (+1) or deleted (-1). Neither `version` nor
    `updated_at` moves: they describe the task's own fields (updated_at is named, or the
    column's onupdate would set it)."""
    await session.execute(
        update(Task)
        .where(Task.id == task_id)
        .values(comment_count=Task.comment_count + delta, updated_at=Task.updated_at)
        .execution_options(synchronize_session=False)
    )


async def get_fresh(session: AsyncSession, task_id: uuid.UUID) -> Task | None:
    stmt = select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_all(session: AsyncSession, *, board_id: uuid.UUID, status: str) -> int:
    """Every task in a column, deleted ones too (they come back to it on restore)."""
    stmt = select(func.count()).where(Task.board_id == board_id, Task.status == status)
    return int((await session.execute(stmt)).scalar_one())


async def append_all(
    session: AsyncSession, *, board_id: uuid.UUID, source: str, target: str
) -> int:
    """Move every task of column `source` (deleted ones too) to the end of `target`, in their
    order, each with a new version. Returns how many moved."""
    last, _ = await column_tail(session, board_id=board_id, status=target)
    stmt = (
        select(Task.id)
        .where(Task.board_id == board_id, Task.status == source)
        .order_by(Task.position, Task.id)
    )
    moved = 0
    for task_id in (await session.execute(stmt)).scalars().all():
        last = key_between(last, None)
        await session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(status=target, position=last, version=Task.version + 1)
            .execution_options(synchronize_session=False)
        )
        moved += 1
    return moved


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


# A task's two link tables: (table, the column naming the linked row).
_LINKS: dict[str, tuple[type[TaskAssignee] | type[TaskLabel], str]] = {
    "assignee_ids": (TaskAssignee, "user_id"),
    "labels": (TaskLabel, "label_id"),
}


def _link_insert(field: str, task_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> Insert | None:
    table, column = _LINKS[field]
    rows = [{"task_id": task_id, column: i} for i in sorted(set(ids))]
    return insert(table).values(rows) if rows else None


async def set_links(
    session: AsyncSession, task_id: uuid.UUID, field: str, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Replace a task's assignees (`field="assignee_ids"`) or labels (`field="labels"`);
    returns the ids it had before."""
    table, column = _LINKS[field]
    previous = await session.scalars(
        delete(table).where(table.task_id == task_id).returning(getattr(table, column))
    )
    before = set(previous.all())
    statement = _link_insert(field, task_id, ids)
    if statement is not None:
        await session.execute(statement)
    return before


@dataclass(frozen=True)
class TaskFilter:
    status: Sequence[str] = ()
    assignee_id: uuid.UUID | None = None
    label_id: uuid.UUID | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    q: str | None = None
    deleted: bool = False


def _sort_keys(sort: TaskSort) -> tuple[list[Any], list[Kind], bool]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "position":
        return [Task.status, Task.position, Task.id], ["text", "text", "uuid"], False
    if name == "due_at":
        return [func.coalesce(Task.due_at, LATEST), Task.id], ["time", "uuid"], descending
    column = Task.created_at if name == "created_at" else Task.updated_at
    return [column, Task.id], ["time", "uuid"], descending


async def page(
    session: AsyncSession,
    *,
    board_id: uuid.UUID,
    filters: TaskFilter,
    sort: TaskSort,
    cursor: str | None,
    limit: int,
) -> tuple[list[TaskRead], str | None]:
    keys, kinds, descending = _sort_keys(sort)
    stmt = _select().where(Task.board_id == board_id)
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
    return await keyset_page(
        session,
        stmt,
        keys=keys,
        kinds=kinds,
        page=PageRequest(cursor, limit),
        item=_to_read,
        descending=descending,
    )
