from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from taskboard.core.schemas import Flag, InputModel, NotNull, OutputModel, Text

EventType = Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z_]+$", max_length=50)]
# Visible ASCII only: an international name or path is sent punycoded / percent-encoded.
Url = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://[!-~]+$")]


class WebhookCreate(InputModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://hooks.example.com/taskboard", "events": ["task.created"]}]
        },
    )

    url: Url
    events: list[EventType] = Field(
        default_factory=list, max_length=50, description="event types; empty: every event"
    )
    description: Text(500) = ""  # type: ignore[valid-type]


class WebhookUpdate(InputModel):
    url: Annotated[Url, NotNull] = None  # type: ignore[assignment]
    events: Annotated[list[EventType], NotNull, Field(max_length=50)] = None  # type: ignore[assignment]
    description: Annotated[Text(500), NotNull] = None  # type: ignore[valid-type]
    enabled: Annotated[Flag, NotNull] = None  # type: ignore[assignment]


class WebhookRead(OutputModel):
    id: uuid.UUID
    board_id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="whsec_...: shown once; verifies `webhook-signature`")


class WebhookSecret(OutputModel):
    secret: str


class WebhookPage(OutputModel):
    items: list[WebhookRead]
    next_cursor: str | None


class DeliveryRead(OutputModel):
    id: uuid.UUID = Field(description="the webhook-id header, the same on every retry")
    seq: int
    type: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


class DeliveryPage(OutputModel):
    items: list[DeliveryRead]
    next_cursor: str | None
