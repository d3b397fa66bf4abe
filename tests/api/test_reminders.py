"""Deadline reminders against the real database, with the clock in the test's hand: every
function takes `now`, so a day passes in a line instead of being slept through."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from taskboard.core.db import create_sessionmaker
from taskboard.core.runtime import Resources
from taskboard.core.streams import StreamEvent
from taskboard.events import log as events_log
from taskboard.notifications import reminders, service
from taskboard.notifications.models import Reminder
from tests.helpers import ApiClient, User

DUE = datetime(2031, 3, 10, 17, 0, tzinfo=UTC)
API = "/api/v1"


async def _setup(api: ApiClient) -> tuple[User, User, dict[str, Any], dict[str, Any]]:
    owner, ada = await api.user("owner"), await api.user("ada")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, ada, "member")
    task = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
    return owner, ada, board, task


async def _plan(resources: Resources, task: dict[str, Any], now: datetime) -> None:
    async with resources.sessionmaker() as session, session.begin():
        await reminders.plan(session, uuid.UUID(task["id"]), now)


async def _claim(resources: Resources, now: datetime, user: User) -> list[tuple[str, bool]]:
    """What the claimer sends at `now` to `user` (rows other tests committed may be due too:
    claiming is global, the assertions are about this test's user)."""
    async with resources.sessionmaker() as session, session.begin():
        claimed = await reminders.claim_due(session, now, limit=10_000)
    return [
        (n.kind, bool(n.data["late"])) for n in claimed.notifications if str(n.user_id) == user.id
    ]


async def test_due_soon_at_each_offset_then_overdue_each_once(
    api: ApiClient, resources: Resources
) -> None:
    _, ada, _, task = await _setup(api)
    await _plan(resources, task, DUE - timedelta(days=3))
    await _plan(resources, task, DUE - timedelta(days=2))  # planning again adds nothing
    assert await _claim(resources, DUE - timedelta(hours=25), ada) == []
    assert await _claim(resources, DUE - timedelta(hours=24), ada) == [("due_soon", False)]
    assert await _claim(resources, DUE - timedelta(hours=23), ada) == []
    assert await _claim(resources, DUE - timedelta(minutes=59), ada) == [("due_soon", False)]
    assert await _claim(resources, DUE, ada) == [("overdue", False)]
    assert await _claim(resources, DUE + timedelta(days=1), ada) == []
    listed = await api.request("GET", f"{API}/notifications", headers=ada.headers)
    kinds = [(n["kind"], n["data"]["due_at"]) for n in listed.json()["items"]]
    assert kinds == [("overdue", DUE.isoformat())] + [("due_soon", DUE.isoformat())] * 2


async def test_what_fell_due_while_no_worker_ran_goes_out_once_marked_late(
    api: ApiClient, resources: Resources
) -> None:
    _, ada, _, task = await _setup(api)
    await _plan(resources, task, DUE - timedelta(days=3))
    # Workers were down across the due date: the due-soon reminders would now only say
    # what the overdue notice says; one notice, late.
    assert await _claim(resources, DUE + timedelta(hours=5), ada) == [("overdue", True)]
    assert await _claim(resources, DUE + timedelta(hours=6), ada) == []


async def test_a_closer_due_soon_supersedes_the_earlier_one(
    api: ApiClient, resources: Resources
) -> None:
    _, ada, _, task = await _setup(api)
    await _plan(resources, task, DUE - timedelta(days=3))
    # Down from 30 h before until 30 min before: both due-soon reminders are due; the one
    # an hour ahead is sent, marked late; the day-ahead one is dropped.
    assert await _claim(resources, DUE - timedelta(minutes=30), ada) == [("due_soon", True)]


async def _patch(api: ApiClient, user: User, task: dict[str, Any], **fields: Any) -> None:
    response = await api.request(
        "PATCH", f"{API}/tasks/{task['id']}", json=fields, headers=user.headers
    )
    assert response.status_code == 200, response.text


async def test_changes_re_plan_or_cancel(api: ApiClient, resources: Resources) -> None:
    owner, ada, board, task = await _setup(api)
    await _plan(resources, task, DUE - timedelta(days=3))
    later = DUE + timedelta(days=7)
    await _patch(api, owner, task, due_at=later.isoformat())
    await _plan(resources, task, DUE - timedelta(days=3))
    assert await _claim(resources, DUE + timedelta(hours=1), ada) == []  # the old plan is gone
    assert await _claim(resources, later, ada) == [("overdue", False)]

    cleared = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
    await _plan(resources, cleared, DUE - timedelta(days=3))
    await _patch(api, owner, cleared, due_at=None)
    await _plan(resources, cleared, DUE - timedelta(days=3))

    done = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
    await _plan(resources, done, DUE - timedelta(days=3))
    moved = await api.request(
        "POST", f"{API}/tasks/{done['id']}/move", json={"status": "done"}, headers=owner.headers
    )
    assert moved.status_code == 200, moved.text
    await _plan(resources, done, DUE - timedelta(days=3))

    unassigned = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
    await _plan(resources, unassigned, DUE - timedelta(days=3))
    await _patch(api, owner, unassigned, assignee_ids=[])
    # Not re-planned: the claim-time check alone must catch it.

    trashed = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
    await _plan(resources, trashed, DUE - timedelta(days=3))
    deleted = await api.request("DELETE", f"{API}/tasks/{trashed['id']}", headers=owner.headers)
    assert deleted.status_code == 204, deleted.text

    assert await _claim(resources, DUE + timedelta(days=1), ada) == []
    async with resources.sessionmaker() as session:
        states = (
            await session.scalars(
                select(Reminder.state).where(Reminder.board_id == uuid.UUID(board["id"]))
            )
        ).all()
    assert "scheduled" not in states


async def test_offsets_follow_the_users_preferences(api: ApiClient, resources: Resources) -> None:
    owner, ada = await api.user("owner"), await api.user("ada")
    chosen = await api.request(
        "PATCH",
        f"{API}/notifications/preferences",
        json={"reminder_offsets_minutes": [15]},
        headers=ada.headers,
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["reminder_offsets_minutes"] == [15]
    board = await api.board(owner)
    await api.add_member(board["id"], owner, ada, "member")
    task = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
    await _plan(resources, task, DUE - timedelta(days=3))
    assert await _claim(resources, DUE - timedelta(hours=1), ada) == []
    assert await _claim(resources, DUE - timedelta(minutes=15), ada) == [("due_soon", False)]


async def test_concurrent_claimers_send_each_reminder_once(
    committed_api: ApiClient, engine: AsyncEngine
) -> None:
    """Four claimers at once over 60 due reminders (committed, real row locks): SKIP LOCKED
    gives each row to one of them."""
    api = committed_api
    owner, ada = await api.user("owner"), await api.user("ada")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, ada, "member")
    tasks = [
        await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=DUE.isoformat())
        for _ in range(60)
    ]
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        for task in tasks:
            await reminders.plan(session, uuid.UUID(task["id"]), DUE - timedelta(days=3))

    async def claimer() -> list[str]:
        sent: list[str] = []
        while True:
            async with sessionmaker() as session, session.begin():
                claimed = await reminders.claim_due(session, DUE + timedelta(hours=1), limit=7)
            sent += [str(n.task_id) for n in claimed.notifications]
            if not claimed.notifications and not claimed.cancelled:
                return sent

    results = await asyncio.gather(*(claimer() for _ in range(4)))
    ours = {task["id"] for task in tasks}
    everything = [task_id for sent in results for task_id in sent if task_id in ours]
    assert sorted(everything) == sorted(ours)
    async with sessionmaker() as session:
        states = (
            await session.scalars(
                select(Reminder.state).where(Reminder.board_id == uuid.UUID(board["id"]))
            )
        ).all()
    assert sorted(set(states)) == ["cancelled", "sent"]
    assert states.count("sent") == 60


async def test_a_reminder_due_when_planned_goes_out_with_the_change_that_caused_it(
    api: ApiClient, resources: Resources
) -> None:
    """Assigned a task due in 30 minutes: the notifier's handling of that one event creates
    the assignment and the due-soon reminder (the 1 h one; the 24 h one only says the same)
    and both e-mails, in one transaction, so they leave as one digest; the claimer finds
    nothing left to send."""
    owner, ada = await api.user("owner"), await api.user("ada")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, ada, "member")
    due = datetime.now(UTC) + timedelta(minutes=30)
    task = await api.task(board["id"], owner, assignee_ids=[ada.id], due_at=due.isoformat())
    mail = service.MailOptions(public_url="http://tb.test", domain="tb.test", secret="s" * 32)
    async with resources.sessionmaker() as session, session.begin():
        logged = await events_log.list_between(
            session, board_id=uuid.UUID(board["id"]), after=0, upto=1_000, limit=1_000
        )
        [created] = [row for row in logged if row.type == "task.created"]
        handled = await service.handle(session, StreamEvent.from_row(created), mail=mail)
        ours = [n for n in handled.notifications if str(n.user_id) == ada.id]
        assert sorted((n.kind, n.task_id) for n in ours) == [
            ("assigned", uuid.UUID(task["id"])),
            ("due_soon", uuid.UUID(task["id"])),
        ]
        [reminded] = [n for n in ours if n.kind == "due_soon"]
        assert reminded.data["late"] is False
        assert len(handled.emails) == len(handled.notifications)
        assert len(handled.reminded.lateness) == 1
    assert await _claim(resources, datetime.now(UTC), ada) == []


async def test_reassigning_brings_back_the_reminders_unassigning_cancelled(
    api: ApiClient, resources: Resources
) -> None:
    owner, ada, _, task = await _setup(api)
    await _plan(resources, task, DUE - timedelta(days=3))
    await _patch(api, owner, task, assignee_ids=[])
    await _plan(resources, task, DUE - timedelta(days=3))
    await _patch(api, owner, task, assignee_ids=[ada.id])
    await _plan(resources, task, DUE - timedelta(days=2))
    assert await _claim(resources, DUE - timedelta(hours=24), ada) == [("due_soon", False)]
    assert await _claim(resources, DUE, ada) == [("overdue", False)]


async def _archive(api: ApiClient, owner: User, board: dict[str, Any], archived: bool) -> None:
    response = await api.request(
        "PATCH", f"{API}/boards/{board['id']}", json={"archived": archived}, headers=owner.headers
    )
    assert response.status_code == 200, response.text


async def _handle_board_events(resources: Resources, board: dict[str, Any], now: datetime) -> None:
    """What the notifier does with the board's events so far."""
    async with resources.sessionmaker() as session, session.begin():
        logged = await events_log.list_between(
            session, board_id=uuid.UUID(board["id"]), after=0, upto=1_000, limit=1_000
        )
        await service.handle(session, StreamEvent.from_row(logged[-1]), now=now)


async def test_an_archived_board_reminds_nobody_until_it_is_restored(
    api: ApiClient, resources: Resources
) -> None:
    owner, ada, board, task = await _setup(api)
    await _plan(resources, task, DUE - timedelta(days=3))
    await _archive(api, owner, board, True)
    assert await _claim(resources, DUE - timedelta(hours=24), ada) == []  # read-only, quiet
    await _archive(api, owner, board, False)
    # Unarchived an hour and a half before the deadline: the notifier plans the board's dated
    # tasks again; the 1 h reminder is still ahead, the 24 h one is not sent late.
    await _handle_board_events(resources, board, DUE - timedelta(minutes=90))
    assert await _claim(resources, DUE - timedelta(minutes=90), ada) == []
    assert await _claim(resources, DUE - timedelta(minutes=59), ada) == [("due_soon", False)]
    assert await _claim(resources, DUE, ada) == [("overdue", False)]
