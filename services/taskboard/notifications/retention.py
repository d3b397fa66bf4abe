"""What the notification side keeps, and for how long: e-mails sent (or skipped) and
reminders settled are deleted after the retention; dead e-mails stay, for a site admin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.db import delete_batch
from taskboard.notifications.models import EmailOutbox, Reminder


async def prune_emails(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` e-mails sent or skipped before `before`; how many went."""
    return await delete_batch(
        session,
        EmailOutbox,
        EmailOutbox.state.in_(("sent", "skipped")),
        EmailOutbox.created_at < before,
        limit=limit,
    )


async def prune_reminders(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` reminders sent or cancelled whose due date is before `before`."""
    return await delete_batch(
        session, Reminder, Reminder.state != "scheduled", Reminder.due_at < before, limit=limit
    )


async def count_dead_emails(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(EmailOutbox).where(EmailOutbox.state == "dead")
    )
    return int(count or 0)
