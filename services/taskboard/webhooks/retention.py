"""What the webhook side keeps, and for how long: deliveries made (with their attempts) are
deleted after the retention; dead ones stay, for a site admin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.db import delete_batch
from taskboard.webhooks.models import WebhookDelivery


async def prune_deliveries(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` deliveries made before `before` (their attempts go with them)."""
    return await delete_batch(
        session,
        WebhookDelivery,
        WebhookDelivery.state == "delivered",
        WebhookDelivery.delivered_at < before,
        limit=limit,
    )


async def count_dead_deliveries(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.state == "dead")
    )
    return int(count or 0)
