from __future__ import annotations

from taskboard.core.errors import NotFound


class NotificationNotFound(NotFound):
    type = "notification-not-found"
    title = "Notification not found"
