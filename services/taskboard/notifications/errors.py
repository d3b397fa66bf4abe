from __future__ import annotations

from taskboard.core.errors import NotFound


class NotificationNotFound(NotFound):
    type = "notification-not-found"
    title = "Notification not found"


class InvalidUnsubscribeLink(NotFound):
    type = "invalid-unsubscribe-link"
    title = "This unsubscribe link is not valid"
