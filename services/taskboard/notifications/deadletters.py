"""Dead letters: e-mails whose sending failed for good (refused with 5xx, or out of retries),
kept in PostgreSQL where a site admin can list them and send them again."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import Forbidden
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.core.schemas import OutputModel
from taskboard.notifications.errors import DeadLetterNotFound
from taskboard.notifications.models import EmailOutbox


class DeadLetter(OutputModel):
    id: uuid.UUID
    kind: str  # "email" (webhook deliveries will join)
    to: str
    subject: str
    attempts: int
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None


class DeadLetterPage(OutputModel):
    items: list[DeadLetter]
    next_cursor: str | None


class NotSiteAdmin(Forbidden):
    type = "not-site-admin"
    title = "Only a site admin can do this"


def _admin(principal: Principal) -> None:
    if principal.site_role != "admin":
        raise NotSiteAdmin()


def _read(row: EmailOutbox) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        kind="email",
        to=row.to_address,
        subject=row.subject,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
    )


async def list_dead(
    uow: UnitOfWork, principal: Principal, page: PageRequest
) -> tuple[list[DeadLetter], str | None]:
    _admin(principal)
    return await keyset_page(
        uow.session,
        select(EmailOutbox).where(EmailOutbox.state == "dead"),
        keys=[EmailOutbox.created_at, EmailOutbox.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: _read(row[0]),
        descending=True,
    )


async def replay(uow: UnitOfWork, principal: Principal, letter_id: uuid.UUID) -> DeadLetter:
    """Back to pending with fresh retries; a worker's sweep sends it within a minute."""
    _admin(principal)
    row = await uow.session.get(EmailOutbox, letter_id, with_for_update=True)
    if row is None or row.state != "dead":
        raise DeadLetterNotFound()
    row.state, row.attempts, row.last_attempt_at = "pending", 0, None
    await uow.session.flush()
    return _read(row)
