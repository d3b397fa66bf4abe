"""After a commit that created notifications: count them and push each, live, to its user's
sockets on whichever realtime pod holds them (`tb:notifications`)."""

from __future__ import annotations

from prometheus_client import Counter
from redis.asyncio import Redis

from taskboard.notifications.push import CHANNEL, encode
from taskboard.notifications.schemas import NotificationRead

CREATED = Counter("taskboard_notifications_created", "Notifications created", ["kind"])


async def push(redis: Redis, created: list[NotificationRead]) -> None:
    for notification in created:
        CREATED.labels(notification.kind).inc()
        # Live push is best effort: the list API is the truth a client reloads from.
        await redis.publish(CHANNEL, encode(notification))
