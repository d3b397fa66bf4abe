"""Dead letters: sends that failed for good (e-mails refused with 5xx or out of retries,
webhook deliveries past their retry schedule), kept in PostgreSQL where a site admin can list
them and send them again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import Subquery, Text, Update, cast, func, literal, select, union_all, update

from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import Forbidden, NotFound
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.core.schemas import OutputModel
from taskboard.notifications.models import EmailOutbox
from taskboard.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class DeadLetter(OutputModel):
    id: uuid.UUID
    kind: Literal["email", "webhook"]
    to: str  # the e-mail address, or the webhook endpoint's URL
    subject: str  # the e-mail's subject, or the event's type and seq
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


class DeadLetterNotFound(NotFound):
    type = "dead-letter-not-found"
    title = "No such dead letter"


def _admin(principal: Principal) -> None:
    if principal.site_role != "admin":
        raise NotSiteAdmin()


def _letters() -> Subquery:
    """Both kinds as rows of one shape, for one newest-first listing."""
    emails = select(
        EmailOutbox.id,
        literal("email").label("kind"),
        EmailOutbox.to_address.label("to"),
        EmailOutbox.subject.label("subject"),
        EmailOutbox.attempts,
        EmailOutbox.last_error,
        EmailOutbox.created_at,
        EmailOutbox.last_attempt_at,
    ).where(EmailOutbox.state == "dead")
    last_attempt = (
        select(func.max(WebhookAttempt.at))
        .where(WebhookAttempt.delivery_id == WebhookDelivery.id)
        .scalar_subquery()
    )
    webhooks = (
        select(
            WebhookDelivery.id,
            literal("webhook").label("kind"),
            WebhookEndpoint.url.label("to"),
            (WebhookDelivery.type + " #" + cast(WebhookDelivery.seq, Text)).label("subject"),
            WebhookDelivery.attempts,
            WebhookDelivery.last_error,
            WebhookDelivery.created_at,
            last_attempt.label("last_attempt_at"),
        )
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.state == "dead")
    )
    return union_all(emails, webhooks).subquery("letters")


async def list_dead(
    uow: UnitOfWork, principal: Principal, page: PageRequest
) -> tuple[list[DeadLetter], str | None]:
    _admin(principal)
    letters = _letters()
    return await keyset_page(
        uow.session,
        select(letters),
        keys=[letters.c.created_at, letters.c.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: DeadLetter.model_validate(dict(row._mapping)),
        descending=True,
    )


async def replay(uow: UnitOfWork, principal: Principal, letter_id: uuid.UUID) -> DeadLetter:
    """Back to pending with fresh retries: a worker's sweep sends an e-mail within a minute,
    a webhook delivery within TASKBOARD_WEBHOOK_POLL_SECONDS (once its endpoint is enabled)."""
    _admin(principal)
    letters = _letters()
    row = (await uow.session.execute(select(letters).where(letters.c.id == letter_id))).first()
    if row is None:
        raise DeadLetterNotFound()
    letter = DeadLetter.model_validate(dict(row._mapping))
    reset: Update
    if letter.kind == "email":
        reset = (
            update(EmailOutbox)
            .where(EmailOutbox.id == letter_id, EmailOutbox.state == "dead")
            .values(state="pending", attempts=0, last_attempt_at=None)
            .returning(EmailOutbox.id)
        )
    else:
        reset = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id == letter_id, WebhookDelivery.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=utcnow())
            .returning(WebhookDelivery.id)
        )
    if (await uow.session.execute(reset)).first() is None:  # replayed meanwhile by another
        raise DeadLetterNotFound()
    return letter.model_copy(update={"attempts": 0, "last_attempt_at": None})
