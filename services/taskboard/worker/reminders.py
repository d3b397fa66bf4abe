"""The reminder claimer, in every worker process: takes due reminders (SKIP LOCKED, so
processes never take the same row), and in that transaction re-checks each task and writes
the notification and its e-mail; after commit pushes and enqueues them. Reminders that fell
due while no worker ran go out when one starts, marked late."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from prometheus_client import Counter, Histogram

from taskboard.core.db import utcnow
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources, background
from taskboard.notifications import reminders, service
from taskboard.worker import jobs
from taskboard.worker.announce import push

log = logging.getLogger("taskboard.reminders")

SENT = Counter("taskboard_reminders", "Reminders claimed, by outcome", ["outcome"])
LATENESS = Histogram(
    "taskboard_reminder_lateness_seconds",
    "When a reminder went out, minus when it was due to",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400),
)
BATCH = 100


async def claim_once(resources: Resources) -> int:
    """One claiming transaction; how many reminders it settled."""
    queue = jobs.current()
    mail = queue.mail_options() if queue is not None else None
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        claimed = await reminders.claim_due(
            session,
            now,
            limit=BATCH,
            late_after=timedelta(seconds=resources.settings.reminder_late_after_seconds),
        )
        emails = (
            await service.write_emails(session, claimed.notifications, mail)
            if mail is not None and claimed.notifications
            else []
        )
    observe(claimed)
    await push(resources.redis, claimed.notifications)
    if queue is not None:
        await queue.enqueue_emails(emails)
    return len(claimed.notifications) + claimed.cancelled


def observe(claimed: reminders.Claimed) -> None:
    for notification in claimed.notifications:
        SENT.labels("late" if notification.data.get("late") else "sent").inc()
    for seconds in claimed.lateness:
        LATENESS.observe(seconds)
    SENT.labels("cancelled").inc(claimed.cancelled)


async def run(resources: Resources, stop: asyncio.Event) -> None:
    interval = resources.settings.reminder_poll_seconds
    while not stop.is_set():
        try:
            settled = await claim_once(resources)
        except Exception:
            log.exception("reminder pass failed")
            settled = 0
        if settled < BATCH:  # a full batch: more are due, go on at once
            await pause(stop, interval)


running_reminders = background("reminders", run)
