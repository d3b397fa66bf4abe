"""What the gateway reads from PostgreSQL, each in a unit of work of its own.

Realtime never writes business data; the one write it can cause (an OIDC token naming a user we
have not seen creates that user) commits through the unit of work like every other writer."""

from __future__ import annotations

import asyncio
import uuid

from taskboard.access import repository as access
from taskboard.auth.authenticate import authenticate_token, own_token_principal
from taskboard.auth.principal import Principal
from taskboard.core.errors import TaskboardError
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.core.streams import StreamEvent
from taskboard.events import log as event_log


class Reads:
    """At most `ws_db_concurrency` reads at once: a flood of subscriptions (each replaying
    from seq 0) waits its turn here instead of taking every pooled connection, which the
    api needs too when both run in one process (`taskboard up`)."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self._slots = asyncio.Semaphore(resources.settings.ws_db_concurrency)

    async def history(self, board_id: uuid.UUID) -> tuple[int, str] | None:
        async with self._slots, unit_of_work(self.resources) as uow:
            return await access.history(uow.session, board_id)

    async def events(self, board_id: uuid.UUID, after: int, upto: int) -> list[StreamEvent]:
        async with self._slots, unit_of_work(self.resources) as uow:
            rows = await event_log.list_between(
                uow.session, board_id=board_id, after=after, upto=upto, limit=upto - after
            )
            return [StreamEvent.from_row(row) for row in rows]

    async def role(self, board_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        async with self._slots, unit_of_work(self.resources) as uow:
            found = await access.role_of(uow.session, board_id, user_id, lock=False)
            return found.role if found else None

    async def principal(self, token: str) -> Principal | None:
        """Who a token names: our own tokens need no database; a trusted issuer's may."""
        try:
            principal = await own_token_principal(token, self.resources)
            if principal is not None or self.resources.oidc is None:
                return principal
            async with unit_of_work(self.resources) as uow:
                return await authenticate_token(token, uow, self.resources)
        except TaskboardError:
            return None
