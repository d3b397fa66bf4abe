"""Imports every model so Base.metadata is complete (Alembic and tests need the whole schema)."""

from taskboard.access.models import Board, Membership
from taskboard.attachments.models import Attachment
from taskboard.auth.models import RefreshToken
from taskboard.columns.models import BoardColumn
from taskboard.comments.models import Comment
from taskboard.core.db import Base
from taskboard.events.models import BoardEvent
from taskboard.idempotency.models import IdempotencyRecord
from taskboard.labels.models import Label
from taskboard.notifications.models import (
    EmailOutbox,
    Notification,
    NotificationPreference,
    NotifiedUpTo,
    Reminder,
)
from taskboard.tasks.models import Task, TaskAssignee, TaskLabel
from taskboard.transfer.models import ImportJob
from taskboard.users.models import User
from taskboard.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Attachment",
    "Base",
    "Board",
    "BoardColumn",
    "BoardEvent",
    "Comment",
    "EmailOutbox",
    "IdempotencyRecord",
    "ImportJob",
    "Label",
    "Membership",
    "Notification",
    "NotificationPreference",
    "NotifiedUpTo",
    "RefreshToken",
    "Reminder",
    "Task",
    "TaskAssignee",
    "TaskLabel",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
