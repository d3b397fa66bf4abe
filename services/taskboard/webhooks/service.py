"""Webhook endpoints of a board (admins manage them) and their deliveries: one per event and
endpoint, written by the notifier in the transaction that handles the event, sent by the
worker in seq order per endpoint."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.core.streams import StreamEvent
from taskboard.webhooks import signing, targets
from taskboard.webhooks.errors import DeliveryNotFound, WebhookNotFound
from taskboard.webhooks.models import WebhookDelivery, WebhookEndpoint
from taskboard.webhooks.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)

# The Standard Webhooks schedule: after the first try, these waits (then dead).
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


async def _check_target(url: str, allow_private: bool) -> None:
    try:
        await targets.resolve(url, allow_private=allow_private)
    except targets.TargetRefused as exc:
        raise ValidationFailed(fields=[FieldProblem("url", "target", str(exc))]) from exc


async def create(
    uow: UnitOfWork,
    principal: Principal,
    board_id: uuid.UUID,
    data: WebhookCreate,
    *,
    allow_private: bool,
) -> WebhookCreated:
    await require_role(uow, board_id, principal, "admin")
    await _check_target(data.url, allow_private)
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        board_id=board_id,
        url=data.url,
        description=data.description,
        events=sorted(set(data.events)),
        secret=signing.new_secret(),
        enabled=True,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    uow.session.add(endpoint)
    await uow.session.flush()
    return WebhookCreated.model_validate(endpoint)


async def _own(
    uow: UnitOfWork, principal: Principal, webhook_id: uuid.UUID, *, write: bool = True
) -> WebhookEndpoint:
    endpoint = await uow.session.get(WebhookEndpoint, webhook_id)
    if endpoint is None:
        raise WebhookNotFound()
    await require_role(
        uow, endpoint.board_id, principal, "admin", hidden=WebhookNotFound, write=write
    )
    return endpoint


async def list_for_board(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, page: PageRequest
) -> tuple[list[WebhookRead], str | None]:
    # A read: no board lock, and an archived board's webhooks stay listed.
    await require_role(uow, board_id, principal, "admin", write=False)
    return await keyset_page(
        uow.session,
        select(WebhookEndpoint).where(WebhookEndpoint.board_id == board_id),
        keys=[WebhookEndpoint.created_at, WebhookEndpoint.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: WebhookRead.model_validate(row[0]),
    )


async def update(
    uow: UnitOfWork,
    principal: Principal,
    webhook_id: uuid.UUID,
    changes: WebhookUpdate,
    *,
    allow_private: bool,
) -> WebhookRead:
    endpoint = await _own(uow, principal, webhook_id)
    fields = changes.model_dump(exclude_unset=True)
    if "url" in fields:
        await _check_target(fields["url"], allow_private)
    if "events" in fields:
        fields["events"] = sorted(set(fields["events"]))
    if fields.get("enabled"):
        endpoint.disabled_reason, endpoint.failing_since = None, None
    for name, value in fields.items():
        setattr(endpoint, name, value)
    await uow.session.flush()
    return WebhookRead.model_validate(endpoint)


async def delete(uow: UnitOfWork, principal: Principal, webhook_id: uuid.UUID) -> None:
    endpoint = await _own(uow, principal, webhook_id)
    await uow.session.delete(endpoint)


async def rotate_secret(
    uow: UnitOfWork, principal: Principal, webhook_id: uuid.UUID
) -> WebhookSecret:
    endpoint = await _own(uow, principal, webhook_id)
    endpoint.secret = signing.new_secret()
    return WebhookSecret(secret=endpoint.secret)


async def list_deliveries(
    uow: UnitOfWork, principal: Principal, webhook_id: uuid.UUID, page: PageRequest
) -> tuple[list[DeliveryRead], str | None]:
    await _own(uow, principal, webhook_id, write=False)
    return await keyset_page(
        uow.session,
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == webhook_id),
        keys=[WebhookDelivery.created_at, WebhookDelivery.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: DeliveryRead.model_validate(row[0]),
        descending=True,
    )


async def replay(
    uow: UnitOfWork, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryRead:
    """Deliver it again (same webhook-id), with fresh retries."""
    await _own(uow, principal, webhook_id)
    delivery = await uow.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.endpoint_id != webhook_id:
        raise DeliveryNotFound()
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    await uow.session.flush()
    return DeliveryRead.model_validate(delivery)


def payload(event: StreamEvent) -> dict[str, object]:
    return {
        "type": event.type,
        "timestamp": event.ts,
        "data": {
            "board_id": str(event.board_id),
            "seq": event.seq,
            "actor_id": str(event.actor_id) if event.actor_id else None,
            "event": event.data,
        },
    }


async def record_deliveries(session: AsyncSession, event: StreamEvent) -> set[uuid.UUID]:
    """A delivery of `event` for each enabled endpoint of its board that wants it (once: a
    redelivered event adds nothing). Returns the endpoints to kick."""
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                WebhookEndpoint.board_id == event.board_id, WebhookEndpoint.enabled.is_(True)
            )
        )
    ).all()
    wanted = [row.id for row in endpoints if not row.events or event.type in row.events]
    if not wanted:
        return set()
    now = utcnow()
    await session.execute(
        insert(WebhookDelivery)
        .values(
            [
                {
                    "id": uuid.uuid4(),
                    "endpoint_id": endpoint_id,
                    "board_id": event.board_id,
                    "seq": event.seq,
                    "type": event.type,
                    "payload": payload(event),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint_id in wanted
            ]
        )
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_endpoint_seq")
    )
    return set(wanted)
