from __future__ import annotations

import uuid

from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.notifications import service
from taskboard.notifications.schemas import (
    NotificationPage,
    NotificationRead,
    ReadAll,
    ReadAllResult,
    UnreadCount,
)
from taskboard.routing.deps import UoW
from taskboard.routing.query import Paging

router = authenticated_router(tags=["notifications"])


@router.get("/notifications")
async def list_notifications(
    uow: UoW, principal: CurrentUser, page: Paging, unread: bool = False
) -> NotificationPage:
    """The caller's notifications, newest first; `unread=true` for the unread ones only."""
    items, next_cursor = await service.list_for_user(uow, principal, page, unread=unread)
    return NotificationPage(items=items, next_cursor=next_cursor)


@router.get("/notifications/unread-count")
async def count_unread_notifications(uow: UoW, principal: CurrentUser) -> UnreadCount:
    return UnreadCount(unread=await service.unread_count(uow, principal))


@router.post("/notifications/{notification_id}/read")
async def read_notification(
    notification_id: uuid.UUID, uow: UoW, principal: CurrentUser
) -> NotificationRead:
    return await service.mark_read(uow, principal, notification_id)


@router.post("/notifications/read-all")
async def read_all_notifications(data: ReadAll, uow: UoW, principal: CurrentUser) -> ReadAllResult:
    return ReadAllResult(marked=await service.mark_all_read(uow, principal, data.up_to))
