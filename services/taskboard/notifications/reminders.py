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
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Membership
from taskboard.columns.models import BoardColumn
from taskboard.notifications import preferences
from taskboard.notifications.models import Notification, Reminder
from taskboard.notifications.schemas import NotificationRead
from taskboard.tasks.models import Task, TaskAssignee


async def _is_done(session: AsyncSession, task: Task) -> bool:
    """Done means in the board's last column."""
    last = await session.scalar(
        select(BoardColumn.key)
        .where(BoardColumn.board_id == task.board_id)
        .order_by(BoardColumn.position.desc())
        .limit(1)
    )
    return task.status == last


async def _live_assignees(session: AsyncSession, task: Task) -> set[uuid.UUID]:
    """Assignees who are still members of the task's board."""
    rows = await session.scalars(
        select(TaskAssignee.user_id)
        .join(
            Membership,
            and_(Membership.user_id == TaskAssignee.user_id, Membership.board_id == task.board_id),
        )
        .where(TaskAssignee.task_id == task.id)
    )
    return set(rows.all())


async def _wanted(session: AsyncSession, task: Task | None) -> set[tuple[Any, ...]]:
    """(user, kind, offset minutes, due_at) of every reminder the task should have now."""
    if task is None or task.due_at is None or task.deleted_at is not None:
        return set()
    if await _is_done(session, task):
        return set()
    users = await _live_assignees(session, task)
    chosen = await preferences.load(session, users)
    wanted = set()
    for user in users:
        wanted.add((user, "overdue", 0, task.due_at))
        for minutes in chosen[user].reminder_offsets_minutes:
            wanted.add((user, "due_soon", minutes, task.due_at))
    return wanted


async def plan(session: AsyncSession, task_id: uuid.UUID, as_of: datetime) -> None:
    """Bring the task's scheduled reminders in line with the task: cancel those it no longer
    wants (due date moved or cleared, assignee gone, done, deleted), add the missing ones.
    `as_of` is when the task became what it is (its event's time): a reminder due before that
    was never meant to go out on time, and is not late when it goes out at once."""
    task = await session.get(Task, task_id)
    wanted = await _wanted(session, task)
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
        .on_conflict_do_nothing(constraint="uq_reminders_plan")
    )


# The default for TASKBOARD_REMINDER_LATE_AFTER_SECONDS.
LATE_AFTER = timedelta(minutes=1)


@dataclass
class Claimed:
    notifications: list[NotificationRead] = field(default_factory=list)
    cancelled: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds after send_at, per send


async def _superseded(session: AsyncSession, row: Reminder, now: datetime) -> bool:
    """A due-soon reminder is pointless once the task is overdue (the overdue notice says
    it), or when a closer due-soon reminder is due too (sent instead of both)."""
    if row.kind != "due_soon":
        return False
    if now >= row.due_at:
        return True
    closer = await session.scalar(
        select(Reminder.id).where(
            Reminder.task_id == row.task_id,
            Reminder.user_id == row.user_id,
            Reminder.due_at == row.due_at,
            Reminder.kind == "due_soon",
            Reminder.offset_minutes < row.offset_minutes,
            Reminder.send_at <= now,
            Reminder.state == "scheduled",
        )
    )
    return closer is not None


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
    for row in rows:
        task = await session.get(Task, row.task_id)
        still = (row.user_id, row.kind, row.offset_minutes, row.due_at)
        if still not in await _wanted(session, task) or await _superseded(session, row, now):
            row.state = "cancelled"
            claimed.cancelled += 1
            continue
        assert task is not None
        late = now - row.send_at > late_after and row.created_at < row.send_at
        created = await session.scalar(
            insert(Notification)
            .values(
                id=uuid.uuid4(),
                user_id=row.user_id,
                board_id=row.board_id,
                task_id=row.task_id,
                kind=row.kind,
                cause=f"reminder:{row.id}",
                actor_id=None,
                data={
                    "task_title": task.title,
                    "status": task.status,
                    "due_at": row.due_at.isoformat(),
                    "late": late,
                },
                created_at=now,
            )
            .on_conflict_do_nothing(constraint="uq_notifications_user_id_cause")
            .returning(Notification)
        )
        row.state, row.sent_at, row.late = "sent", now, late
        claimed.lateness.append(max(0.0, (now - row.send_at).total_seconds()))
        if created is not None:
            claimed.notifications.append(NotificationRead.model_validate(created))
    return claimed
