"""Deleting a column: it may carry its tasks to another column, so it sits above both."""

from __future__ import annotations

import uuid

from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.columns import service as columns
from taskboard.columns.errors import ColumnNotEmpty
from taskboard.columns.rules import check_wip
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.events import log as events
from taskboard.tasks import repository as tasks


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
    column = await columns.get_by_key(uow, board_id, key, field="key")
    count = await tasks.count_all(uow.session, board_id=board_id, status=key)
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
        target = await columns.get_by_key(uow, board_id, move_tasks_to, field="move_tasks_to")
        _, arriving = await tasks.column_tail(uow.session, board_id=board_id, status=key)
        _, live = await tasks.column_tail(uow.session, board_id=board_id, status=target.key)
        check_wip(target.key, target.wip_limit, live, adding=arriving)
        moved = await tasks.append_all(
            uow.session, board_id=board_id, source=key, target=target.key
        )
    await uow.session.delete(column)
    await uow.session.flush()
    await events.append(
        uow,
        board_id=board_id,
        type="column.deleted",
        data={"key": key, "moved_tasks_to": move_tasks_to, "moved": moved},
        actor_id=principal.user_id,
    )
