from __future__ import annotations

import uuid

from fastapi import status

from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.query import Paging
from taskboard.webhooks import service
from taskboard.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)

router = authenticated_router(tags=["webhooks"])


@router.post("/boards/{board_id}/webhooks", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    board_id: uuid.UUID,
    data: WebhookCreate,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
) -> WebhookCreated:
    """Board admins. The answer carries the signing secret, once."""
    return await service.create(
        uow,
        principal,
        board_id,
        data,
        allow_private=settings.webhook_allow_private_targets,
    )


@router.get("/boards/{board_id}/webhooks")
async def list_webhooks(
    board_id: uuid.UUID, uow: UoW, principal: CurrentUser, page: Paging
) -> WebhookPage:
    items, next_cursor = await service.list_for_board(uow, principal, board_id, page)
    return WebhookPage(items=items, next_cursor=next_cursor)


@router.patch("/webhooks/{webhook_id}")
async def update_webhook(
    webhook_id: uuid.UUID,
    data: WebhookUpdate,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
) -> WebhookRead:
    return await service.update(
        uow, principal, webhook_id, data, allow_private=settings.webhook_allow_private_targets
    )


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete(uow, principal, webhook_id)


@router.post("/webhooks/{webhook_id}/rotate-secret")
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, uow: UoW, principal: CurrentUser
) -> WebhookSecret:
    """A new secret at once; deliveries from now on are signed with it."""
    return await service.rotate_secret(uow, principal, webhook_id)


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_webhook_deliveries(
    webhook_id: uuid.UUID, uow: UoW, principal: CurrentUser, page: Paging
) -> DeliveryPage:
    """Newest first, with each one's state, attempts and last answer."""
    items, next_cursor = await service.list_deliveries(uow, principal, webhook_id, page)
    return DeliveryPage(items=items, next_cursor=next_cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/replay")
async def replay_webhook_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, uow: UoW, principal: CurrentUser
) -> DeliveryRead:
    return await service.replay(uow, principal, webhook_id, delivery_id)
