from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update

from taskboard.auth.principal import Principal
from taskboard.boards.access import require_role
from taskboard.columns.errors import (
    ColumnKeyTaken,
    ColumnNotEmpty,
    ColumnNotFound,
    WipLimitExceeded,
)
from taskboard.columns.models import BoardColumn
from taskboard.columns.schemas import ColumnCreate, ColumnMove, ColumnRead, ColumnUpdate
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.ordering import key_between
from taskboard.events import service as events
from taskboard.tasks.models import Task


async def create_defaults(
    uow: UnitOfWork, board_id: uuid.UUID, columns: Sequence[tuple[str, str]]
) -> list[BoardColumn]:
    created, position = [], None
    for key, name in columns:
        position = key_between(position, None)
        column = BoardColumn(
            id=uuid.uuid4(), board_id=board_id, key=key, name=name, position=position
        )
        uow.session.add(column)
        created.append(column)
    await uow.session.flush()
    return created


async def list_for_board(uow: UnitOfWork, board_id: uuid.UUID) -> list[BoardColumn]:
    stmt = (
        select(BoardColumn).where(BoardColumn.board_id == board_id).order_by(BoardColumn.position)
    )
    return list((await uow.session.execute(stmt)).scalars())


async def list_visible(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID
) -> list[ColumnRead]:
    await require_role(uow, board_id, principal, "viewer")
    return [ColumnRead.model_validate(c) for c in await list_for_board(uow, board_id)]


async def get_by_key(uow: UnitOfWork, board_id: uuid.UUID, key: str, *, field: str) -> BoardColumn:
    stmt = select(BoardColumn).where(BoardColumn.board_id == board_id, BoardColumn.key == key)
    column = (await uow.session.execute(stmt)).scalar_one_or_none()
    if column is None:
        raise ColumnNotFound(
            f"The board has no column {key!r}",
            fields=[FieldProblem(field, "exists", f"no column with key {key!r} on this board")],
        )
    return column


async def check_room(uow: UnitOfWork, column: BoardColumn, *, adding: int = 1) -> None:
    """Refuse to push a column past its WIP limit (the board lock makes the count exact)."""
    if column.wip_limit is None:
        return
    stmt = select(func.count()).where(
        Task.board_id == column.board_id, Task.status == column.key, Task.deleted_at.is_(None)
    )
    count = int((await uow.session.execute(stmt)).scalar_one())
    if count + adding > column.wip_limit:
        raise WipLimitExceeded(
            f"Column {column.key!r} holds {count} of at most {column.wip_limit} tasks",
            extra={"column": column.key, "wip_limit": column.wip_limit, "count": count},
        )


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:50]
    return slug or "column"


async def _neighbour_position(
    uow: UnitOfWork,
    board_id: uuid.UUID,
    after_key: str | None,
    before_key: str | None,
    *,
    moving: BoardColumn | None = None,
) -> str:
    """A position right after `after_key`, right before `before_key`, or at the end; the
    column being moved is not one of its own neighbours."""
    columns = [c for c in await list_for_board(uow, board_id) if c is not moving]
    keys = [c.key for c in columns]
    if after_key is None and before_key is None:
        return key_between(columns[-1].position if columns else None, None)
    if after_key is not None:
        anchor = await get_by_key(uow, board_id, after_key, field="after_key")
        i = keys.index(anchor.key)
        nxt = columns[i + 1].position if i + 1 < len(columns) else None
        return key_between(anchor.position, nxt)
    assert before_key is not None
    anchor = await get_by_key(uow, board_id, before_key, field="before_key")
    i = keys.index(anchor.key)
    prev = columns[i - 1].position if i > 0 else None
    return key_between(prev, anchor.position)


async def create(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, data: ColumnCreate
) -> ColumnRead:
    await require_role(uow, board_id, principal, "admin")
    key = data.key or _slug(data.name)
    existing = select(BoardColumn.id).where(
        BoardColumn.board_id == board_id, BoardColumn.key == key
    )
    if (await uow.session.execute(existing)).first() is not None:
        raise ColumnKeyTaken(
            f"Column key {key!r} is taken",
            fields=[FieldProblem("key", "unique", f"{key!r} is already used on this board")],
        )
    position = await _neighbour_position(uow, board_id, data.after_key, None)
    column = BoardColumn(
        id=uuid.uuid4(),
        board_id=board_id,
        key=key,
        name=data.name,
        position=position,
        wip_limit=data.wip_limit,
    )
    uow.session.add(column)
    await uow.session.flush()
    read = ColumnRead.model_validate(column)
    await events.append(
        uow,
        board_id=board_id,
        type="column.created",
        data=read.model_dump(mode="json"),
        actor_id=principal.user_id,
    )
    return read


async def update_column(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, key: str, changes: ColumnUpdate
) -> ColumnRead:
    await require_role(uow, board_id, principal, "admin")
    column = await get_by_key(uow, board_id, key, field="key")
    fields = changes.model_dump(exclude_unset=True)
    if "name" in fields and fields["name"] is None:
        raise ValidationFailed(fields=[FieldProblem("name", "required", "must not be null")])
    for name, value in fields.items():
        setattr(column, name, value)  # wip_limit: null clears the limit
    await uow.session.flush()
    read = ColumnRead.model_validate(column)
    await events.append(
        uow,
        board_id=board_id,
        type="column.updated",
        data=read.model_dump(mode="json"),
        actor_id=principal.user_id,
    )
    return read


async def move(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, key: str, data: ColumnMove
) -> ColumnRead:
    await require_role(uow, board_id, principal, "admin")
    column = await get_by_key(uow, board_id, key, field="key")
    if key in (data.after_key, data.before_key):
        raise ValidationFailed(
            fields=[FieldProblem("after_key", "distinct", "cannot place a column next to itself")]
        )
    column.position = await _neighbour_position(
        uow, board_id, data.after_key, data.before_key, moving=column
    )
    await uow.session.flush()
    read = ColumnRead.model_validate(column)
    await events.append(
        uow,
        board_id=board_id,
        type="column.moved",
        data=read.model_dump(mode="json"),
        actor_id=principal.user_id,
    )
    return read


async def delete_column(
    uow: UnitOfWork,
    principal: Principal,
    board_id: uuid.UUID,
    key: str,
    *,
    move_tasks_to: str | None,
) -> None:
    """Delete an empty column, or move its tasks (deleted ones too) to another column first."""
    await require_role(uow, board_id, principal, "admin")
    column = await get_by_key(uow, board_id, key, field="key")
    count_stmt = select(func.count()).where(Task.board_id == board_id, Task.status == key)
    count = int((await uow.session.execute(count_stmt)).scalar_one())
    moved = 0
    if count:
        if move_tasks_to is None:
            raise ColumnNotEmpty(
                f"Column {key!r} holds {count} tasks; pass move_tasks_to=<column key>",
                fields=[FieldProblem("move_tasks_to", "required", "the column is not empty")],
            )
        if move_tasks_to == key:
            raise ValidationFailed(
                fields=[FieldProblem("move_tasks_to", "distinct", "must be another column")]
            )
        target = await get_by_key(uow, board_id, move_tasks_to, field="move_tasks_to")
        moved = await _append_tasks(uow, board_id, source=key, target=target)
    await uow.session.delete(column)
    await uow.session.flush()
    await events.append(
        uow,
        board_id=board_id,
        type="column.deleted",
        data={"key": key, "moved_tasks_to": move_tasks_to, "moved": moved},
        actor_id=principal.user_id,
    )


async def _append_tasks(
    uow: UnitOfWork, board_id: uuid.UUID, *, source: str, target: BoardColumn
) -> int:
    await check_room(uow, target, adding=await _live_count(uow, board_id, source))
    last = (
        await uow.session.execute(
            select(func.max(Task.position)).where(
                Task.board_id == board_id, Task.status == target.key
            )
        )
    ).scalar_one_or_none()
    rows = (
        await uow.session.execute(
            select(Task.id)
            .where(Task.board_id == board_id, Task.status == source)
            .order_by(Task.position, Task.id)
        )
    ).scalars()
    moved = 0
    for task_id in rows:
        last = key_between(last, None)
        await uow.session.execute(
            update(Task)
            .where(Task.id == task_id)
            .values(status=target.key, position=last, version=Task.version + 1)
            .execution_options(synchronize_session=False)
        )
        moved += 1
    return moved


async def _live_count(uow: UnitOfWork, board_id: uuid.UUID, key: str) -> int:
    stmt = select(func.count()).where(
        Task.board_id == board_id, Task.status == key, Task.deleted_at.is_(None)
    )
    return int((await uow.session.execute(stmt)).scalar_one())
