from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from taskboard.auth.deps import CurrentUser
from taskboard.events import service
from taskboard.events.schemas import EventPage
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.query import Limit, page_size

router = authenticated_router(tags=["events"])


@router.get("/boards/{board_id}/events")
async def list_events(
    board_id: uuid.UUID,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Limit = None,
) -> EventPage:
    return await service.page_visible(
        uow, principal, board_id=board_id, after=after, limit=page_size(settings, limit)
    )
