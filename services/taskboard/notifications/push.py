"""The live push of a new notification: the worker publishes it, every realtime pod hears it
and sends it to that user's open sockets (no board subscription needed)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from taskboard.notifications.schemas import NotificationRead

CHANNEL = "tb:notifications"


def encode(notification: NotificationRead) -> str:
    return json.dumps(
        {"user_id": str(notification.user_id), "notification": notification.model_dump(mode="json")}
    )


def decode(raw: bytes | str) -> tuple[uuid.UUID, dict[str, Any]]:
    message = json.loads(raw)
    return uuid.UUID(message["user_id"]), dict(message["notification"])
