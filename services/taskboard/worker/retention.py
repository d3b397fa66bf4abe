"""Housekeeping in every worker process: the dead-letter gauge an SRE alerts on, and the
deletion of settled rows after TASKBOARD_DELIVERY_RETENTION_DAYS, so the outbox, reminder,
delivery and import-job tables stay the size of their retention, not of the system's age.
Several workers pruning at once is harmless: each row is deleted once, the others find it gone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.db import utcnow
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources, background
from taskboard.notifications import retention as notification_retention
from taskboard.transfer import retention as transfer_retention
from taskboard.webhooks import retention as webhook_retention

log = logging.getLogger("taskboard.retention")

DEAD = Gauge(
    "taskboard_dead_letters",
    "Sends that failed for good, waiting for a site admin (GET /api/v1/admin/dead-letters)",
    ["kind"],
    multiprocess_mode="livemax",  # shared state, sampled by each process
)
PRUNED = Counter(
    "taskboard_pruned_rows",
    "Settled rows deleted after TASKBOARD_DELIVERY_RETENTION_DAYS",
    ["table"],
)
SAMPLE_EVERY = 60.0
PRUNE_EVERY = 3600.0
BATCH = 1000

Pruner = Callable[[AsyncSession, datetime, int], Awaitable[int]]
PRUNERS: dict[str, Pruner] = {
    "email_outbox": notification_retention.prune_emails,
    "reminders": notification_retention.prune_reminders,
    "webhook_deliveries": webhook_retention.prune_deliveries,
    "import_jobs": transfer_retention.prune_import_jobs,
}


async def sample_dead(resources: Resources) -> None:
    async with resources.sessionmaker() as session:
        DEAD.labels("email").set(await notification_retention.count_dead_emails(session))
        DEAD.labels("webhook").set(await webhook_retention.count_dead_deliveries(session))


async def prune(resources: Resources, now: datetime) -> dict[str, int]:
    """Delete what is settled and older than the retention at `now`, a batch per transaction
    (short locks, no long-running delete); how many rows per table."""
    before = now - timedelta(days=resources.settings.delivery_retention_days)
    deleted: dict[str, int] = {}
    for table, pruner in PRUNERS.items():
        deleted[table] = 0
        while True:
            async with resources.sessionmaker() as session, session.begin():
                count = await pruner(session, before, BATCH)
            deleted[table] += count
            PRUNED.labels(table).inc(count)
            if count < BATCH:
                break
    return deleted


async def run(resources: Resources, stop: asyncio.Event) -> None:
    pruned = 0.0
    while not stop.is_set():
        try:
            await sample_dead(resources)
            if time.monotonic() - pruned > PRUNE_EVERY:
                pruned = time.monotonic()
                deleted = await prune(resources, utcnow())
                if any(deleted.values()):
                    log.info("settled rows deleted", extra={"deleted": deleted})
        except Exception:
            log.exception("housekeeping pass failed")
        await pause(stop, SAMPLE_EVERY)


running_retention = background("retention", run)
