"""Notifications: made from board events by the worker (`record_for_event`, exactly once per
user and cause), read and marked read by their user through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.models import Board, Membership
from taskboard.auth.principal import Principal
from taskboard.comments.models import Comment
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.core.streams import StreamEvent
from taskboard.events import log as events_log
from taskboard.notifications import email, preferences, reminders, rules, unsubscribe
from taskboard.notifications.errors import NotificationNotFound
from taskboard.notifications.models import Notification, NotifiedUpTo
from taskboard.notifications.schemas import NotificationRead
from taskboard.tasks.models import TaskAssignee
from taskboard.users.models import User

# Events that can tell anyone anything (the others are skipped without a query).
NOTIFYING = frozenset({"task.created", "task.updated", "task.moved", "comment.created"})


def cause_of(event: StreamEvent) -> str:
    return f"{event.board_id}:{event.seq}"


async def _facts(session: AsyncSession, event: StreamEvent) -> rules.Facts:
    rows = (
        await session.execute(
            select(User.id, User.display_name, User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.board_id == event.board_id)
        )
    ).all()
    members = {row.id: rules.Member(row.id, row.display_name, row.email) for row in rows}
    assignees: frozenset[uuid.UUID] = frozenset()
    parent_author = None
    if event.type == "comment.created":
        task_id = uuid.UUID(str(event.data["task_id"]))
        assignees = frozenset(
            (
                await session.scalars(
                    select(TaskAssignee.user_id).where(TaskAssignee.task_id == task_id)
                )
            ).all()
        )
        if event.data.get("parent_id"):
            parent_author = await session.scalar(
                select(Comment.author_id).where(Comment.id == uuid.UUID(event.data["parent_id"]))
            )
    return rules.Facts(members=members, assignees=assignees, parent_author=parent_author)


async def record_for_event(session: AsyncSession, event: StreamEvent) -> list[NotificationRead]:
    """The notifications `event` causes, created unless they already exist (a redelivered
    event creates nothing). Returns only those created now, for the caller to push."""
    if event.type not in NOTIFYING:
        return []
    facts = await _facts(session, event)
    notices = [
        replace(notice, data={**notice.data, "seq": event.seq})
        for notice in rules.notices(event.type, event.data, event.actor_id, facts)
    ]
    return await _create_once(
        session,
        notices,
        board_id=event.board_id,
        cause=cause_of(event),
        actor_id=event.actor_id,
        at=utcnow(),
    )


async def _create_once(
    session: AsyncSession,
    notices: list[rules.Notice],
    *,
    board_id: uuid.UUID,
    cause: str,
    actor_id: uuid.UUID | None,
    at: datetime,
) -> list[NotificationRead]:
    """Insert the notices their recipients want, each at most once per (user, cause); returns
    those created now. A kind wanted only by e-mail is still a row (the e-mail's source), born
    read."""
    if not notices:
        return []
    chosen = await preferences.load(session, {n.user_id for n in notices})
    notices = [
        n
        for n in notices
        if n.kind in chosen[n.user_id].in_app or n.kind in chosen[n.user_id].email
    ]
    if not notices:
        return []
    created = (
        await session.scalars(
            insert(Notification)
            .values(
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": notice.user_id,
                        "board_id": board_id,
                        "task_id": notice.task_id,
                        "kind": notice.kind,
                        "cause": cause,
                        "actor_id": actor_id,
                        "data": notice.data,
                        "created_at": at,
                        "read_at": None if notice.kind in chosen[notice.user_id].in_app else at,
                    }
                    for notice in notices
                ]
            )
            .on_conflict_do_nothing(constraint="uq_notifications_user_id_cause")
            .returning(Notification)
        )
    ).all()
    return [NotificationRead.model_validate(row) for row in created]


# Events read from the log at a time when filling a gap.
GAP_BATCH = 1000


@dataclass(frozen=True)
class MailOptions:
    """Set when e-mail is configured: notifications then get an outbox row each."""

    public_url: str
    domain: str  # of the sender: Message-IDs are <notification id@domain>
    secret: str  # signs one-click unsubscribe links


@dataclass
class Handled:
    notifications: list[NotificationRead] = field(default_factory=list)
    emails: list[uuid.UUID] = field(default_factory=list)  # outbox ids, to enqueue
    # Whose reminders to re-plan, with the time of the task's latest change.
    tasks_changed: dict[uuid.UUID, datetime] = field(default_factory=dict)
    events: list[StreamEvent] = field(default_factory=list)  # handled now, in seq order
    # Reminders that were due as soon as planned, sent in this transaction.
    reminded: reminders.Claimed = field(default_factory=reminders.Claimed)


# Changes that can call for new reminder rows. Every other change can only make rows moot
# (moved to the last column, unassigned, deleted), and the claimer checks that at send time.
_PLANNING_FIELDS = frozenset({"due_at", "assignee_ids"})


def _note_task(handled: Handled, event: StreamEvent) -> None:
    """Note the task whose reminders the event may add to: created or restored with a due
    date, or its due date or assignees changed."""
    task = event.data.get("task") if event.type.startswith("task.") else None
    if not isinstance(task, dict) or not task.get("id") or not task.get("due_at"):
        return
    changed = set(event.data.get("changed") or ())
    if event.type in ("task.created", "task.restored") or (
        event.type == "task.updated" and changed & _PLANNING_FIELDS
    ):
        handled.tasks_changed[uuid.UUID(str(task["id"]))] = datetime.fromisoformat(event.ts)


def _unarchives(event: StreamEvent) -> bool:
    return (
        event.type == "board.updated"
        and "archived_at" in event.data
        and event.data["archived_at"] is None
    )


async def handle(
    session: AsyncSession,
    event: StreamEvent,
    *,
    mail: MailOptions | None = None,
    now: datetime | None = None,
    late_after: timedelta = reminders.LATE_AFTER,
) -> Handled:
    """Handle `event` and any earlier event of its board the notifier has not seen, in seq
    order, in the caller's transaction. The board's progress row is locked meanwhile, so
    workers handling one board take turns; what was handled already is skipped.

    Reminders due as soon as they are planned (a task due within a reminder's offset) are
    sent here rather than at the claimer's next pass: at once, and in the same transaction
    (and so the same e-mail digest) as the notifications the change caused."""
    await session.execute(
        insert(NotifiedUpTo)
        .values(board_id=event.board_id, seq=event.seq - 1)
        .on_conflict_do_nothing(index_elements=["board_id"])
    )
    done = await session.scalar(
        select(NotifiedUpTo.seq).where(NotifiedUpTo.board_id == event.board_id).with_for_update()
    )
    assert done is not None
    handled = Handled()
    if event.seq <= done:
        return handled
    while done < event.seq - 1:
        missed = await events_log.list_between(
            session, board_id=event.board_id, after=done, upto=event.seq - 1, limit=GAP_BATCH
        )
        if not missed:
            break
        for row in missed:
            earlier = StreamEvent.from_row(row)
            handled.notifications += await record_for_event(session, earlier)
            _note_task(handled, earlier)
            handled.events.append(earlier)
        done = missed[-1].seq
    handled.notifications += await record_for_event(session, event)
    _note_task(handled, event)
    handled.events.append(event)
    await session.execute(
        update(NotifiedUpTo).where(NotifiedUpTo.board_id == event.board_id).values(seq=event.seq)
    )
    for unarchived in (e for e in handled.events if _unarchives(e)):
        # Its reminders were cancelled as they fell due while it was read-only.
        as_of = datetime.fromisoformat(unarchived.ts)
        for task_id in await reminders.dated_tasks(session, unarchived.board_id):
            handled.tasks_changed[task_id] = max(as_of, handled.tasks_changed.get(task_id, as_of))
    for task_id, as_of in sorted(handled.tasks_changed.items()):
        await reminders.plan(session, task_id, as_of)
    if handled.tasks_changed:
        handled.reminded = await reminders.claim_due(
            session,
            now or utcnow(),
            late_after=late_after,
            task_ids=handled.tasks_changed.keys(),
        )
        handled.notifications += handled.reminded.notifications
    if mail is not None and handled.notifications:
        handled.emails = await write_emails(session, handled.notifications, mail)
    return handled


async def write_emails(
    session: AsyncSession, notifications: list[NotificationRead], mail: MailOptions
) -> list[uuid.UUID]:
    """An outbox row per notification, in the transaction that created them."""
    users = {n.user_id for n in notifications} | {n.actor_id for n in notifications if n.actor_id}
    people = {
        row.id: row
        for row in (
            await session.execute(
                select(User.id, User.email, User.display_name, User.time_zone).where(
                    User.id.in_(users)
                )
            )
        ).all()
    }
    board_ids = {n.board_id for n in notifications}
    names = await session.execute(select(Board.id, Board.name).where(Board.id.in_(board_ids)))
    boards: dict[uuid.UUID, str] = {row.id: row.name for row in names}
    chosen = await preferences.load(session, {n.user_id for n in notifications})
    rows = []
    for notification in notifications:
        person = people.get(notification.user_id)
        if person is None or notification.kind not in chosen[notification.user_id].email:
            continue
        actor = people.get(notification.actor_id) if notification.actor_id else None
        rows.append(
            email.outbox_row(
                notification,
                email.Recipient(person.id, person.email, person.time_zone),
                actor=actor.display_name if actor else "",
                board=boards.get(notification.board_id, ""),
                public_url=mail.public_url,
                unsubscribe_url=unsubscribe.url(mail.public_url, mail.secret, person.id),
                domain=mail.domain,
            )
        )
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]


async def notify_webhook_disabled(
    session: AsyncSession,
    *,
    board_id: uuid.UUID,
    webhook_id: uuid.UUID,
    url: str,
    reason: str,
    created_by: uuid.UUID | None,
    at: datetime,
) -> list[NotificationRead]:
    """Tell whoever looks after a webhook that it was disabled: the admin who made it, while
    they still administer the board; otherwise every admin and owner of the board."""
    admins = set(
        (
            await session.scalars(
                select(Membership.user_id).where(
                    Membership.board_id == board_id, Membership.role.in_(("admin", "owner"))
                )
            )
        ).all()
    )
    recipients = {created_by} if created_by in admins else admins
    data = {"webhook_id": str(webhook_id), "url": url, "excerpt": reason}
    notices = [
        rules.Notice(user_id=user, kind="webhook_disabled", task_id=None, data=data)
        for user in sorted(recipients, key=str)
    ]
    cause = f"webhook:{webhook_id}:{at.isoformat()}"
    return await _create_once(
        session, notices, board_id=board_id, cause=cause, actor_id=None, at=at
    )


async def list_for_user(
    uow: UnitOfWork, principal: Principal, page: PageRequest, *, unread: bool
) -> tuple[list[NotificationRead], str | None]:
    """Newest first."""
    stmt = select(Notification).where(Notification.user_id == principal.user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return await keyset_page(
        uow.session,
        stmt,
        keys=[Notification.created_at, Notification.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: NotificationRead.model_validate(row[0]),
        descending=True,
    )


async def unread_count(uow: UnitOfWork, principal: Principal) -> int:
    return int(
        await uow.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == principal.user_id, Notification.read_at.is_(None))
        )
        or 0
    )


async def mark_read(
    uow: UnitOfWork, principal: Principal, notification_id: uuid.UUID
) -> NotificationRead:
    row = await uow.session.get(Notification, notification_id)
    if row is None or row.user_id != principal.user_id:
        raise NotificationNotFound()
    if row.read_at is None:
        row.read_at = utcnow()
        await uow.session.flush()
    return NotificationRead.model_validate(row)


async def mark_all_read(uow: UnitOfWork, principal: Principal, up_to: uuid.UUID | None) -> int:
    conditions = [Notification.user_id == principal.user_id, Notification.read_at.is_(None)]
    if up_to is not None:
        point = await uow.session.get(Notification, up_to)
        if point is None or point.user_id != principal.user_id:
            raise NotificationNotFound()
        conditions.append(
            tuple_(Notification.created_at, Notification.id) <= tuple_(point.created_at, point.id)
        )
    result = await uow.session.execute(
        update(Notification).where(and_(*conditions)).values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
