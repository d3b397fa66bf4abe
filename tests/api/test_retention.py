"""Housekeeping against the real database: settled rows go after the retention, dead
letters and anything still to do stay, and the dead-letter gauge counts what waits."""

from __future__ import annotations

import uuid
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select

from taskboard.core.db import utcnow
from taskboard.core.runtime import Resources
from taskboard.notifications.models import EmailOutbox, Notification, Reminder
from taskboard.transfer.models import ImportJob
from taskboard.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from taskboard.worker import retention
from tests.helpers import ApiClient

OLD = timedelta(days=31)  # past the default retention of 30 days
RECENT = timedelta(days=1)


async def test_settled_rows_go_after_the_retention_and_dead_letters_stay(
    api: ApiClient, resources: Resources
) -> None:
    ada = await api.user("ada")
    board = await api.board(ada)
    task = await api.task(board["id"], ada, title="t")
    user_id, board_id, task_id = uuid.UUID(ada.id), uuid.UUID(board["id"]), uuid.UUID(task["id"])
    now = utcnow()
    emails: dict[str, uuid.UUID] = {}
    deliveries: dict[str, uuid.UUID] = {}
    reminders: dict[str, uuid.UUID] = {}
    async with resources.sessionmaker() as session, session.begin():
        for name, state, age in (
            ("old-sent", "sent", OLD),
            ("old-skipped", "skipped", OLD),
            ("recent-sent", "sent", RECENT),
            ("old-dead", "dead", OLD),
            ("old-pending", "pending", OLD),
        ):
            notification = Notification(
                id=uuid.uuid4(),
                user_id=user_id,
                board_id=board_id,
                kind="assigned",
                cause=f"test:{name}",
                data={},
                created_at=now - age,
            )
            session.add(notification)
            await session.flush()
            emails[name] = uuid.uuid4()
            session.add(
                EmailOutbox(
                    id=emails[name],
                    notification_id=notification.id,
                    user_id=user_id,
                    to_address="ada@example.com",
                    subject=name,
                    text_body="t",
                    html_body="h",
                    message_id=f"<{name}@example.com>",
                    state=state,
                    attempts=1,
                    created_at=now - age,
                )
            )
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            board_id=board_id,
            url="https://hooks.example.com/in",
            description="",
            events=[],
            secret="whsec_" + "A" * 32,
            enabled=True,
        )
        session.add(endpoint)
        await session.flush()
        for seq, (name, state, age) in enumerate(
            (
                ("old-delivered", "delivered", OLD),
                ("recent-delivered", "delivered", RECENT),
                ("old-dead", "dead", OLD),
                ("old-pending", "pending", OLD),
            ),
            start=1,
        ):
            deliveries[name] = uuid.uuid4()
            session.add(
                WebhookDelivery(
                    id=deliveries[name],
                    endpoint_id=endpoint.id,
                    board_id=board_id,
                    seq=seq,
                    type="task.created",
                    payload={},
                    state=state,
                    attempts=1,
                    created_at=now - age,
                    delivered_at=now - age if state == "delivered" else None,
                )
            )
            await session.flush()
            session.add(
                WebhookAttempt(
                    id=uuid.uuid4(), delivery_id=deliveries[name], at=now - age, latency_ms=1
                )
            )
        for offset, (name, state, age) in enumerate(
            (
                ("old-sent", "sent", OLD),
                ("old-cancelled", "cancelled", OLD),
                ("recent-sent", "sent", RECENT),
                ("old-scheduled", "scheduled", OLD),
            )
        ):
            reminders[name] = uuid.uuid4()
            session.add(
                Reminder(
                    id=reminders[name],
                    task_id=task_id,
                    board_id=board_id,
                    user_id=user_id,
                    kind="due_soon",
                    offset_minutes=offset + 1,
                    due_at=now - age,
                    send_at=now - age,
                    state=state,
                )
            )

    jobs: dict[str, uuid.UUID] = {}
    async with resources.sessionmaker() as session, session.begin():
        for name, status, age in (
            ("old-done", "done", OLD),
            ("old-failed", "failed", OLD),
            ("recent-done", "done", RECENT),
            ("old-queued", "queued", OLD),
            ("old-running", "running", OLD),
        ):
            jobs[name] = uuid.uuid4()
            session.add(
                ImportJob(
                    id=jobs[name],
                    user_id=user_id,
                    source="taskboard",
                    status=status,
                    document_sha256=name.ljust(64, "0"),
                    created_at=now - age,
                    updated_at=now - age,
                )
            )

    await retention.sample_dead(resources)
    assert REGISTRY.get_sample_value("taskboard_dead_letters", {"kind": "email"}) == 1
    assert REGISTRY.get_sample_value("taskboard_dead_letters", {"kind": "webhook"}) == 1

    deleted = await retention.prune(resources, now)
    assert deleted == {
        "email_outbox": 2,
        "reminders": 2,
        "webhook_deliveries": 1,
        "import_jobs": 2,
    }
    async with resources.sessionmaker() as session:
        kept_emails = set(
            (
                await session.scalars(
                    select(EmailOutbox.subject).where(EmailOutbox.user_id == user_id)
                )
            ).all()
        )
        kept_deliveries = set(
            (
                await session.scalars(
                    select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
                )
            ).all()
        )
        attempts = (
            await session.scalars(
                select(WebhookAttempt.delivery_id).where(
                    WebhookAttempt.delivery_id.in_(deliveries.values())
                )
            )
        ).all()
        kept_reminders = set(
            (await session.scalars(select(Reminder.id).where(Reminder.task_id == task_id))).all()
        )
        kept_jobs = set(
            (await session.scalars(select(ImportJob.id).where(ImportJob.user_id == user_id))).all()
        )
    assert kept_jobs == {jobs[n] for n in ("recent-done", "old-queued", "old-running")}
    assert kept_emails == {"recent-sent", "old-dead", "old-pending"}
    assert kept_deliveries == {
        deliveries[n] for n in ("recent-delivered", "old-dead", "old-pending")
    }
    assert set(attempts) == kept_deliveries  # an attempt goes with its delivery
    assert kept_reminders == {reminders[n] for n in ("recent-sent", "old-scheduled")}
    # A second pass finds nothing more.
    assert await retention.prune(resources, now) == dict.fromkeys(deleted, 0)
