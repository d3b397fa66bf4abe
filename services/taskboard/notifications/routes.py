from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.notifications import preferences, service, unsubscribe
from taskboard.notifications.errors import InvalidUnsubscribeLink
from taskboard.notifications.schemas import (
    NotificationPage,
    NotificationRead,
    Preferences,
    PreferencesUpdate,
    ReadAll,
    ReadAllResult,
    UnreadCount,
)
from taskboard.routing.contract import PUBLIC
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.query import Paging

router = authenticated_router(tags=["notifications"])
# Reached from an e-mail, with no session: the signed token is the authority.
public_router = APIRouter(tags=["notifications"], responses=PUBLIC)


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


@router.get("/notifications/preferences")
async def get_notification_preferences(uow: UoW, principal: CurrentUser) -> Preferences:
    """Which kinds you are told about in the app and by e-mail, and when reminders come."""
    return await preferences.get(uow, principal)


@router.patch("/notifications/preferences")
async def update_notification_preferences(
    data: PreferencesUpdate, uow: UoW, principal: CurrentUser
) -> Preferences:
    return await preferences.update(uow, principal, data)


@public_router.post("/notifications/unsubscribe", status_code=status.HTTP_204_NO_CONTENT)
async def unsubscribe_from_emails(
    token: Annotated[str, Query(max_length=500)], uow: UoW, settings: SettingsDep
) -> None:
    """RFC 8058 one-click unsubscribe: the link in every notification e-mail. Stops all
    e-mail for the user the link was made for; the app keeps notifying."""
    user_id = unsubscribe.verify(settings.verification_keys, token)
    if user_id is None:
        raise InvalidUnsubscribeLink()
    await preferences.stop_email(uow.session, user_id)
