"""Reading a board's event log through the API (the activity feed)."""

from __future__ import annotations

import uuid

from taskboard.access import repository as access_repository
from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.events.log import list_between
from taskboard.events.schemas import EventPage, EventRead


async def page_visible(
    uow: UnitOfWork, principal: Principal, *, board_id: uuid.UUID, after: int, limit: int
) -> EventPage:
    await require_role(uow, board_id, principal, "viewer")
    last_seq = await access_repository.current_seq(uow.session, board_id)
    assert last_seq is not None  # the role check just found the board
    items = await list_between(
        uow.session, board_id=board_id, after=after, upto=last_seq, limit=limit
    )
    reads = [EventRead.model_validate(e) for e in items]
    more = bool(reads) and reads[-1].seq < last_seq
    return EventPage(items=reads, next_after=reads[-1].seq if more else None, last_seq=last_seq)
