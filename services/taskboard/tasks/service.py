from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select

from taskboard.access.models import Membership
from taskboard.access.roles import RANK, Role, at_least
from taskboard.access.service import authorize, require_role
from taskboard.auth.principal import Principal
from taskboard.columns import service as columns
from taskboard.columns.errors import ColumnNotFound
from taskboard.columns.rules import check_wip
from taskboard.core import db, quotas
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.ordering import key_between
from taskboard.core.telemetry import current_traceparent
from taskboard.events import log as events
from taskboard.events.schemas import EventRead, TaskEventPage
from taskboard.labels.models import Label
from taskboard.tasks import repository
from taskboard.tasks.errors import StaleVersion, TaskDeleted, TaskNotFound
from taskboard.tasks.models import Task
from taskboard.tasks.repository import TaskFilter
from taskboard.tasks.schemas import TaskCreate, TaskMove, TaskRead, TaskSort, TaskUpdate


def _require_members(ids: Sequence[uuid.UUID], members: Collection[uuid.UUID]) -> None:
    missing = [str(i) for i in ids if i not in members]
    if missing:
        raise ValidationFailed(
            "Tasks can only be assigned to board members",
            fields=[FieldProblem("assignee_ids", "member", f"not members: {', '.join(missing)}")],
        )


def _require_labels(ids: Sequence[uuid.UUID], known: Collection[uuid.UUID]) -> None:
    missing = [str(i) for i in ids if i not in known]
    if missing:
        raise ValidationFailed(
            "Unknown labels",
            fields=[
                FieldProblem("labels", "exists", f"not labels of this board: {', '.join(missing)}")
            ],
        )


async def _check_assignees(uow: UnitOfWork, board_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    if not ids:
        return
    stmt = select(Membership.user_id).where(
        Membership.board_id == board_id, Membership.user_id.in_(set(ids))
    )
    _require_members(ids, set((await uow.session.execute(stmt)).scalars()))


async def _check_labels(uow: UnitOfWork, board_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
    if not ids:
        return
    stmt = select(Label.id).where(Label.board_id == board_id, Label.id.in_(set(ids)))
    _require_labels(ids, set((await uow.session.execute(stmt)).scalars()))


async def _record(
    uow: UnitOfWork, principal: Principal, task_id: uuid.UUID, type: str, **extra: Any
) -> TaskRead:
    await uow.session.flush()  # the read below is SQL: it must see this write
    read = await repository.read_one(uow.session, task_id)
    assert read is not None
    return await events.record(
        uow,
        TaskRead,
        read,
        board_id=read.board_id,
        type=type,
        actor_id=principal.user_id,
        under="task",
        **extra,
    )


# The roles that may create a task: authorize's rule for "member", as taskboard_create_task
# is given it (the function applies the rule; this module owns it).
_WRITERS = tuple(role for role in RANK if at_least(role, "member"))


def _check_creation(
    target: repository.CreationTarget | None, status: str | None, *, quota: int
) -> repository.CreationTarget:
    """The create's checks on what the board lock read, in their order: who may write, the
    board's task quota, the target column. Returns `target`, checked."""
    authorize(target.access if target else None, "member", write=True)
    assert target is not None  # authorize refused a caller who is not a member
    # The trash counts: its tasks can come back.
    quotas.check(target.task_count, limit=quota, what="tasks on a board")
    if target.column_key is None:
        if status is not None:
            raise ColumnNotFound(
                f"The board has no column {status!r}",
                fields=[FieldProblem("status", "exists", f"no column with key {status!r}")],
            )
        raise ValidationFailed(
            fields=[FieldProblem("status", "exists", "the board has no columns")]
        )
    return target


def _new_task(principal: Principal, board_id: uuid.UUID, data: TaskCreate) -> TaskRead:
    """The task a create writes, but for its column and position (empty until known)."""
    now = utcnow()
    return TaskRead(
        id=uuid.uuid4(),
        board_id=board_id,
        status="",
        position="",
        title=data.title,
        description=data.description,
        priority=data.priority,
        assignee_ids=sorted(set(data.assignee_ids)),
        labels=sorted(set(data.labels)),
        start_at=data.start_at,
        due_at=data.due_at,
        created_by=principal.user_id,
        updated_by=principal.user_id,
        created_at=now,
        updated_at=now,
        deleted_at=None,
        version=1,
        comment_count=0,
    )


async def create(
    uow: UnitOfWork,
    principal: Principal,
    board_id: uuid.UUID,
    data: TaskCreate,
    *,
    quota: int,
    alone: bool = False,
) -> TaskRead:
    """The hot write, in one round trip: taskboard_create_task (migration 0017) locks the
    board, reads what the checks need, and writes the task, its links, the seq and the event,
    or writes nothing and returns what it read, on which the checks below then raise exactly
    what they always did. `alone`: the caller's unit of work does nothing else, so when it
    has not begun its transaction that statement is its own (no BEGIN and COMMIT round trips);
    otherwise (an Idempotency-Key claimed first) it joins the transaction."""
    driver = await db.driver(uow.session)
    read = _new_task(principal, board_id, data)
    event: dict[str, Any] = {"task": read.model_dump(mode="json")}
    traceparent = current_traceparent()
    done = await repository.create_in_one_trip(
        driver,
        read,
        status=data.status,
        writers=_WRITERS,
        quota=quota,
        data=json.dumps(event, separators=(",", ":")),
        trace_context=traceparent,
        alone=alone,
    )
    if done is None or done.seq is None:
        target = _check_creation(done.target if done else None, data.status, quota=quota)
        assert done is not None
        assert target.column_key is not None
        if done.live is not None:
            check_wip(target.column_key, target.wip_limit, done.live)
        if done.members is not None:
            _require_members(data.assignee_ids, done.members)
        if done.known is not None:
            _require_labels(data.labels, done.known)
        # Nothing to refuse, yet nothing written: no key after the column's last one in SQL
        # (taskboard_key_after), or the function and these checks disagree. The statements
        # of old decide, in a transaction of their own.
        return await _create_in_steps(uow, driver, principal, board_id, data, quota=quota)
    assert done.target.column_key is not None
    assert done.position is not None
    assert done.created_at is not None
    read.status = event["task"]["status"] = done.target.column_key
    read.position = event["task"]["position"] = done.position
    events.appended(
        uow,
        board_id=board_id,
        seq=done.seq,
        type="task.created",
        data=event,
        actor_id=principal.user_id,
        created_at=done.created_at,
        trace_context=traceparent,
    )
    return read


async def _create_in_steps(
    uow: UnitOfWork,
    driver: db.Driver,
    principal: Principal,
    board_id: uuid.UUID,
    data: TaskCreate,
    *,
    quota: int,
) -> TaskRead:
    """The create as separate statements in one transaction (BEGIN, the lock with what it
    reads, the tail again when another writer came in between, task + event, COMMIT), for
    what taskboard_create_task leaves to Python."""
    target = _check_creation(
        await repository.lock_for_create(
            driver, board_id=board_id, user_id=principal.user_id, status=data.status
        ),
        data.status,
        quota=quota,
    )
    assert target.column_key is not None
    last_position, live = target.tail or await repository.column_tail_for_create(
        driver, board_id=board_id, status=target.column_key
    )
    check_wip(target.column_key, target.wip_limit, live)
    await _check_assignees(uow, board_id, data.assignee_ids)
    await _check_labels(uow, board_id, data.labels)
    read = _new_task(principal, board_id, data)
    read.status = target.column_key
    read.position = key_between(last_position, None)
    await events.append_sql(
        uow,
        driver,
        board_id=board_id,
        type="task.created",
        data={"task": read.model_dump(mode="json")},
        actor_id=principal.user_id,
        alongside=repository.INSERT_NEW,
        args=repository.insert_new_args(read),
        tasks_added=1,
    )
    return read


async def board_of_task(
    uow: UnitOfWork, principal: Principal, task_id: uuid.UUID, minimum: Role
) -> uuid.UUID:
    """The task's board, after the role check (which locks the board for writes); a task on a
    board the caller cannot see is not found. What hangs off a task (comments, files) asks
    this too."""
    board_id = await repository.board_of(uow.session, task_id)
    if board_id is None:
        raise TaskNotFound()
    await require_role(uow, board_id, principal, minimum, hidden=TaskNotFound)
    return board_id


async def _load(uow: UnitOfWork, principal: Principal, task_id: uuid.UUID, minimum: Role) -> Task:
    """The task, after the role check (which locks the board for writes); hidden boards 404."""
    await board_of_task(uow, principal, task_id, minimum)
    task = await repository.get_fresh(uow.session, task_id)
    if task is None:
        raise TaskNotFound()
    return task


async def get(uow: UnitOfWork, principal: Principal, task_id: uuid.UUID) -> TaskRead:
    task = await _load(uow, principal, task_id, "viewer")
    read = await repository.read_one(uow.session, task.id)
    assert read is not None
    return read


async def list_events(
    uow: UnitOfWork,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    before: int | None,
    limit: int,
) -> TaskEventPage:
    """The task's activity: its board's task.* and comment.* events about it, newest first,
    for anyone who can see the board. A trashed task answers too, as GET /tasks/{id} does."""
    board_id = await repository.board_of(uow.session, task_id)
    if board_id is None:
        raise TaskNotFound()
    await require_role(uow, board_id, principal, "viewer", hidden=TaskNotFound)
    rows = await events.list_about_task(
        uow.session, board_id=board_id, task_id=task_id, before=before, limit=limit + 1
    )
    items = [EventRead.model_validate(row) for row in rows[:limit]]
    more = len(rows) > limit
    return TaskEventPage(items=items, next_before=items[-1].seq if more else None)


async def _check_version(uow: UnitOfWork, task: Task, if_match: int | None) -> None:
    """A stale If-Match is a 412 that carries the task as it now is, so the client can merge."""
    if if_match is not None and task.version != if_match:
        current = await repository.read_one(uow.session, task.id)
        assert current is not None
        raise StaleVersion(
            f"You sent version {if_match}; the task is at version {task.version}",
            extra={"current": current.model_dump(mode="json")},
        )


async def update(
    uow: UnitOfWork,
    principal: Principal,
    task_id: uuid.UUID,
    changes: TaskUpdate,
    *,
    if_match: int | None,
) -> TaskRead:
    task = await _load(uow, principal, task_id, "member")
    await _check_version(uow, task, if_match)
    if task.deleted_at is not None:
        raise TaskDeleted()
    fields = changes.model_dump(exclude_unset=True)
    start_at = fields.get("start_at", task.start_at)
    due_at = fields.get("due_at", task.due_at)
    if start_at is not None and due_at is not None and start_at > due_at:
        raise ValidationFailed(
            fields=[FieldProblem("due_at", "after_start", "must not be before start_at")]
        )
    if "assignee_ids" in fields:
        await _check_assignees(uow, task.board_id, fields["assignee_ids"])
    if "labels" in fields:
        await _check_labels(uow, task.board_id, fields["labels"])
    # Who was added and removed goes into the event: the worker tells them (notifications).
    assignees: dict[str, list[str]] = {}
    if "assignee_ids" in fields:
        after = set(fields["assignee_ids"])
        before = await repository.set_links(
            uow.session, task.id, "assignee_ids", fields.pop("assignee_ids")
        )
        assignees = {
            "assignees_added": sorted(str(i) for i in after - before),
            "assignees_removed": sorted(str(i) for i in before - after),
        }
    if "labels" in fields:
        await repository.set_links(uow.session, task.id, "labels", fields.pop("labels"))
    for name, value in fields.items():
        setattr(task, name, value)
    task.version += 1
    task.updated_by = principal.user_id
    task.updated_at = utcnow()
    return await _record(
        uow,
        principal,
        task.id,
        "task.updated",
        changed=sorted(changes.model_fields_set),
        **assignees,
    )


async def move(
    uow: UnitOfWork,
    principal: Principal,
    task_id: uuid.UUID,
    data: TaskMove,
    *,
    if_match: int | None,
) -> TaskRead:
    task = await _load(uow, principal, task_id, "member")
    await _check_version(uow, task, if_match)
    if task.deleted_at is not None:
        raise TaskDeleted()
    column = await columns.get_by_key(uow, task.board_id, data.status, field="status")
    if column.key != task.status:
        _, live = await repository.column_tail(
            uow.session, board_id=task.board_id, status=column.key
        )
        check_wip(column.key, column.wip_limit, live)
    before, after = await _slot(uow, task, column.key, data)
    from_status = task.status
    task.status = column.key
    task.position = key_between(before, after)
    task.version += 1
    task.updated_by = principal.user_id
    task.updated_at = utcnow()
    return await _record(uow, principal, task.id, "task.moved", from_status=from_status)


async def _slot(
    uow: UnitOfWork, task: Task, status: str, data: TaskMove
) -> tuple[str | None, str | None]:
    """Positions bracketing the new place: after `after_id`, before `before_id`, else the end."""

    async def anchor(anchor_id: uuid.UUID, field: str) -> Task:
        other = await repository.get_fresh(uow.session, anchor_id)
        if (
            other is None
            or other.board_id != task.board_id
            or other.status != status
            or other.deleted_at is not None
            or other.id == task.id
        ):
            raise ValidationFailed(
                fields=[
                    FieldProblem(
                        field, "same_column", "must be another live task in the target column"
                    )
                ]
            )
        return other

    session = uow.session
    if data.after_id is not None and data.before_id is not None:
        lo, hi = await anchor(data.after_id, "after_id"), await anchor(data.before_id, "before_id")
        if lo.position >= hi.position:
            raise ValidationFailed(
                fields=[
                    FieldProblem("before_id", "order", "must come after after_id in the column")
                ]
            )
        return lo.position, hi.position
    if data.after_id is not None:
        lo = await anchor(data.after_id, "after_id")
        nxt = await repository.neighbour_position(
            session, task.board_id, status, lo.position, after=True, exclude=task.id
        )
        return lo.position, nxt
    if data.before_id is not None:
        hi = await anchor(data.before_id, "before_id")
        prev = await repository.neighbour_position(
            session, task.board_id, status, hi.position, after=False, exclude=task.id
        )
        return prev, hi.position
    last, _ = await repository.column_tail(session, board_id=task.board_id, status=status)
    if status == task.status and last == task.position:
        return task.position, None  # already last: any later key keeps it last
    return last, None


async def delete(uow: UnitOfWork, principal: Principal, task_id: uuid.UUID) -> None:
    task = await _load(uow, principal, task_id, "member")
    if task.deleted_at is not None:
        return
    task.deleted_at = utcnow()
    task.version += 1
    task.updated_by = principal.user_id
    await _record(uow, principal, task.id, "task.deleted")


async def restore(uow: UnitOfWork, principal: Principal, task_id: uuid.UUID) -> TaskRead:
    task = await _load(uow, principal, task_id, "member")
    if task.deleted_at is None:
        return await get(uow, principal, task_id)
    column = await columns.get_by_key(uow, task.board_id, task.status, field="status")
    last, live = await repository.column_tail(
        uow.session, board_id=task.board_id, status=column.key
    )
    check_wip(column.key, column.wip_limit, live)
    # It comes back at the end of its column: its old neighbours may have moved meanwhile.
    task.position = key_between(last, None)
    task.deleted_at = None
    task.version += 1
    task.updated_by = principal.user_id
    task.updated_at = utcnow()
    return await _record(uow, principal, task.id, "task.restored")


async def list_for_board(
    uow: UnitOfWork,
    principal: Principal,
    board_id: uuid.UUID,
    *,
    filters: TaskFilter,
    sort: TaskSort,
    cursor: str | None,
    limit: int,
) -> tuple[list[TaskRead], str | None]:
    await require_role(uow, board_id, principal, "viewer")
    return await repository.page(
        uow.session, board_id=board_id, filters=filters, sort=sort, cursor=cursor, limit=limit
    )
