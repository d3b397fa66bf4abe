from __future__ import annotations

import uuid

from taskboard.auth.deps import CurrentUser
from taskboard.deadletters import service
from taskboard.deadletters.service import DeadLetter, DeadLetterPage
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import UoW
from taskboard.routing.query import Paging

# Tagged with the notifications they mostly are, so the operation ids stay as published.
router = authenticated_router(tags=["notifications"])


@router.get("/admin/dead-letters")
async def list_dead_letters(uow: UoW, principal: CurrentUser, page: Paging) -> DeadLetterPage:
    """E-mails and webhook deliveries that failed for good (site admins): newest first."""
    items, next_cursor = await service.list_dead(uow, principal, page)
    return DeadLetterPage(items=items, next_cursor=next_cursor)


@router.post("/admin/dead-letters/{letter_id}/replay")
async def replay_dead_letter(letter_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> DeadLetter:
    """Send it again, with fresh retries (a worker picks it up within a minute)."""
    return await service.replay(uow, principal, letter_id)
