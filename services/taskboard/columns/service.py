from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.columns.errors import (
    ColumnKeyTaken,
    ColumnNotFound,
)
from taskboard.columns.models import BoardColumn
from taskboard.columns.schemas import ColumnCreate, ColumnMove, ColumnRead, ColumnUpdate
from taskboard.core import quotas
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.ordering import key_between
from taskboard.events import log as events


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
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, data: ColumnCreate, *, quota: int
) -> ColumnRead:
    await require_role(uow, board_id, principal, "admin")
    await quotas.enforce(
        uow.session,
        select(func.count()).select_from(BoardColumn).where(BoardColumn.board_id == board_id),
        limit=quota,
        what="columns on a board",
    )
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
    return await events.record(
        uow,
        ColumnRead,
        column,
        board_id=board_id,
        type="column.created",
        actor_id=principal.user_id,
    )


async def update_column(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, key: str, changes: ColumnUpdate
) -> ColumnRead:
    await require_role(uow, board_id, principal, "admin")
    column = await get_by_key(uow, board_id, key, field="key")
    fields = changes.model_dump(exclude_unset=True)
    for name, value in fields.items():
        setattr(column, name, value)  # wip_limit: null clears the limit
    return await events.record(
        uow,
        ColumnRead,
        column,
        board_id=board_id,
        type="column.updated",
        actor_id=principal.user_id,
    )


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
    return await events.record(
        uow, ColumnRead, column, board_id=board_id, type="column.moved", actor_id=principal.user_id
    )
