"""Deadline reminders: rows in PostgreSQL, never delayed broker messages (those are lost with
Redis and may be duplicated). The notifier plans them from task events; every worker claims
the due ones (FOR UPDATE SKIP LOCKED) and, in the claiming transaction, checks the task again
and writes the notification (and its e-mail): a row is sent once, or cancelled, whatever
worker crashes where. `now` is a parameter throughout, so tests choose the time."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board, Membership
from taskboard.columns.models import BoardColumn
from taskboard.notifications import preferences
from taskboard.notifications.models import Notification, Reminder
from taskboard.notifications.schemas import NotificationRead, Preferences
from taskboard.tasks.models import Task, TaskAssignee


@dataclass(frozen=True)
class _Facts:
    """What deciding a task's reminders needs, looked up for many tasks at once."""

    tasks: dict[uuid.UUID, Task]
    last_column: dict[uuid.UUID, str]  # board -> the key of its last column ("done")
    archived: set[uuid.UUID]  # boards archived: read-only, and nobody is reminded of them
    assignees: dict[uuid.UUID, set[uuid.UUID]]  # task -> assignees still members of its board
    preferences: dict[uuid.UUID, Preferences]


async def _facts(session: AsyncSession, task_ids: Collection[uuid.UUID]) -> _Facts:
    """Four queries whatever the number of tasks (a claim takes a hundred reminders)."""
    tasks = {
        task.id: task
        for task in (await session.scalars(select(Task).where(Task.id.in_(task_ids)))).all()
    }
    boards = {task.board_id for task in tasks.values()}
    last_column: dict[uuid.UUID, str] = {}
    archived: set[uuid.UUID] = set()
    if boards:
        last = await session.execute(
            select(BoardColumn.board_id, BoardColumn.key, Board.archived_at)
            .join(Board, Board.id == BoardColumn.board_id)
            .where(BoardColumn.board_id.in_(boards))
            .order_by(BoardColumn.board_id, BoardColumn.position.desc())
            .ext(distinct_on(BoardColumn.board_id))
        )
        for board_id, key, archived_at in last:
            last_column[board_id] = key
            if archived_at is not None:
                archived.add(board_id)
    assignees: dict[uuid.UUID, set[uuid.UUID]] = {}
    if tasks:
        rows = await session.execute(
            select(TaskAssignee.task_id, TaskAssignee.user_id)
            .join(Task, Task.id == TaskAssignee.task_id)
            .join(
                Membership,
                and_(
                    Membership.user_id == TaskAssignee.user_id,
                    Membership.board_id == Task.board_id,
                ),
            )
            .where(TaskAssignee.task_id.in_(tasks))
        )
        for row in rows:
            assignees.setdefault(row.task_id, set()).add(row.user_id)
    users = set().union(*assignees.values()) if assignees else set()
    return _Facts(tasks, last_column, archived, assignees, await preferences.load(session, users))


def _wanted(facts: _Facts, task_id: uuid.UUID) -> set[tuple[Any, ...]]:
    """(user, kind, offset minutes, due_at) of every reminder the task should have now: none
    once it is deleted, undated or done (in its board's last column), or its board archived
    (unarchiving plans the board's tasks again: `dated_tasks`)."""
    task = facts.tasks.get(task_id)
    if task is None or task.due_at is None or task.deleted_at is not None:
        return set()
    if task.board_id in facts.archived:
        return set()
    if task.status == facts.last_column.get(task.board_id):
        return set()
    wanted = set()
    for user in facts.assignees.get(task_id, set()):
        wanted.add((user, "overdue", 0, task.due_at))
        for minutes in facts.preferences[user].reminder_offsets_minutes:
            wanted.add((user, "due_soon", minutes, task.due_at))
    return wanted


async def plan(session: AsyncSession, task_id: uuid.UUID, as_of: datetime) -> None:
    """Bring the task's scheduled reminders in line with the task: cancel those it no longer
    wants (due date moved or cleared, assignee gone, done, deleted, board archived), add the
    missing ones, and bring back those cancelled earlier that it wants again (an assignee
    removed and added back, a board archived and restored).
    `as_of` is when the task became what it is (its event's time): a reminder due before that
    was never meant to go out on time, and is not late when it goes out at once."""
    facts = await _facts(session, [task_id])
    task = facts.tasks.get(task_id)
    wanted = _wanted(facts, task_id)
    scheduled = (
        await session.scalars(
            select(Reminder)
            .where(Reminder.task_id == task_id, Reminder.state == "scheduled")
            .with_for_update()
        )
    ).all()
    for row in scheduled:
        if (row.user_id, row.kind, row.offset_minutes, row.due_at) not in wanted:
            row.state = "cancelled"
    if not wanted or task is None:
        return
    await session.execute(
        insert(Reminder)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "task_id": task_id,
                    "board_id": task.board_id,
                    "user_id": user,
                    "kind": kind,
                    "offset_minutes": minutes,
                    "due_at": due_at,
                    "send_at": due_at - timedelta(minutes=minutes),
                    "state": "scheduled",
                    "created_at": as_of,
                }
                for user, kind, minutes, due_at in wanted
            ]
        )
        .on_conflict_do_update(
            constraint="uq_reminders_plan",
            set_={"state": "scheduled", "created_at": as_of},
            # A sent reminder stays sent: it went out for this very due date already.
            where=Reminder.state == "cancelled",
        )
    )


async def dated_tasks(session: AsyncSession, board_id: uuid.UUID) -> list[uuid.UUID]:
    """The board's live tasks with a due date: what to plan again when it is unarchived."""
    rows = await session.scalars(
        select(Task.id).where(
            Task.board_id == board_id, Task.deleted_at.is_(None), Task.due_at.is_not(None)
        )
    )
    return list(rows.all())


# The default for TASKBOARD_REMINDER_LATE_AFTER_SECONDS.
LATE_AFTER = timedelta(minutes=1)


@dataclass
class Claimed:
    notifications: list[NotificationRead] = field(default_factory=list)
    cancelled: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds after send_at, per send


# (task, user, due_at) -> the smallest offset among its due-soon reminders due now.
Closest = dict[tuple[uuid.UUID, uuid.UUID, datetime], int]


def _superseded(row: Reminder, now: datetime, closest: Closest) -> bool:
    """A due-soon reminder is pointless once the task is overdue (the overdue notice says
    it), or when a closer due-soon reminder is due too (sent instead of both)."""
    if row.kind != "due_soon":
        return False
    if now >= row.due_at:
        return True
    return closest.get((row.task_id, row.user_id, row.due_at), row.offset_minutes) < (
        row.offset_minutes
    )


async def _closest_due_soon(
    session: AsyncSession, task_ids: Collection[uuid.UUID], now: datetime
) -> Closest:
    rows = await session.execute(
        select(Reminder.task_id, Reminder.user_id, Reminder.due_at, Reminder.offset_minutes).where(
            Reminder.task_id.in_(task_ids),
            Reminder.kind == "due_soon",
            Reminder.state == "scheduled",
            Reminder.send_at <= now,
        )
    )
    closest: Closest = {}
    for task_id, user_id, due_at, minutes in rows:
        key = (task_id, user_id, due_at)
        closest[key] = min(minutes, closest.get(key, minutes))
    return closest


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int = 100,
    late_after: timedelta = LATE_AFTER,
    task_ids: Collection[uuid.UUID] | None = None,
) -> Claimed:
    """Claim reminders due at `now` (of `task_ids` only, when given) and send or cancel each,
    in the caller's transaction. One sent more than `late_after` after it was due (no worker
    ran) is marked late."""
    claimed = Claimed()
    due = select(Reminder).where(Reminder.state == "scheduled", Reminder.send_at <= now)
    if task_ids is not None:
        due = due.where(Reminder.task_id.in_(task_ids))
    rows = (
        await session.scalars(
            due.order_by(Reminder.send_at).limit(limit).with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return claimed
    claimed_tasks = {row.task_id for row in rows}
    facts = await _facts(session, claimed_tasks)
    closest = await _closest_due_soon(session, claimed_tasks, now)
    wanted = {task_id: _wanted(facts, task_id) for task_id in claimed_tasks}
    sending: list[tuple[Reminder, bool]] = []
    for row in rows:
        still = (row.user_id, row.kind, row.offset_minutes, row.due_at)
        if still not in wanted[row.task_id] or _superseded(row, now, closest):
            row.state = "cancelled"
            claimed.cancelled += 1
            continue
        late = now - row.send_at > late_after and row.created_at < row.send_at
        row.state, row.sent_at, row.late = "sent", now, late
        claimed.lateness.append(max(0.0, (now - row.send_at).total_seconds()))
        sending.append((row, late))
    if not sending:
        return claimed
    created = await session.scalars(
        insert(Notification)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": row.user_id,
                    "board_id": row.board_id,
                    "task_id": row.task_id,
                    "kind": row.kind,
                    "cause": f"reminder:{row.id}",
                    "actor_id": None,
                    "data": {
                        "task_title": facts.tasks[row.task_id].title,
                        "status": facts.tasks[row.task_id].status,
                        "due_at": row.due_at.isoformat(),
                        "late": late,
                    },
                    "created_at": now,
                }
                for row, late in sending
            ]
        )
        .on_conflict_do_nothing(constraint="uq_notifications_user_id_cause")
        .returning(Notification)
    )
    claimed.notifications = [NotificationRead.model_validate(n) for n in created.all()]
    return claimed
