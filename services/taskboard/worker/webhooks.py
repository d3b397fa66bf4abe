"""Webhook delivery in the worker: one endpoint at a time per worker (its row is locked while
a delivery is on the wire), its deliveries strictly in seq order: a failing one holds the
later ones back until it succeeds or dies. Retries follow the Standard Webhooks schedule,
honour Retry-After, and 410 Gone disables the endpoint; every attempt is logged."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.db import utcnow
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources, background
from taskboard.notifications import service as notifications
from taskboard.notifications.schemas import NotificationRead
from taskboard.webhooks import signing, targets
from taskboard.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from taskboard.webhooks.service import RETRY_SCHEDULE
from taskboard.worker import jobs
from taskboard.worker.announce import push

log = logging.getLogger("taskboard.webhooks")

OUTCOMES = Counter("taskboard_webhook_deliveries", "Webhook delivery attempts", ["outcome"])
EXCERPT = 1000
# An endpoint failing this long (every delivery retried and failing) is disabled.
DISABLE_AFTER = timedelta(days=5)
MAX_RETRY_AFTER = timedelta(hours=10)


def _retry_after(response: httpx.Response | None) -> timedelta | None:
    value = response.headers.get("retry-after") if response is not None else None
    if value and value.strip().isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    return None


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
) -> httpx.Response:
    """POST to the address that was checked, not to whatever the name resolves to next."""
    address = await targets.resolve(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    header_host = parts.netloc.rpartition("@")[2]
    return await client.post(
        pinned,
        content=body,
        headers={**headers, "Host": header_host},
        extensions={"sni_hostname": parts.hostname or ""},
    )


@dataclass
class _Outcome:
    go_on: bool  # deliver the endpoint's next one now
    disabled: bool = False  # this attempt disabled the endpoint


async def _attempt(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    client: httpx.AsyncClient,
    *,
    allow_private: bool,
) -> _Outcome:
    """Try the endpoint's oldest pending delivery if it is due, and record how it went."""
    delivery = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "pending")
        .order_by(WebhookDelivery.seq)
        .limit(1)
    )
    now = utcnow()
    if delivery is None or delivery.next_attempt_at > now:
        return _Outcome(go_on=False)
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    stamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "taskboard-webhooks/1",
        "webhook-id": str(delivery.id),
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.sign(endpoint.secret, str(delivery.id), stamp, body),
    }
    started = time.monotonic()
    response: httpx.Response | None = None
    error: str | None = None
    try:
        response = await _post(client, endpoint.url, body, headers, allow_private=allow_private)
    except targets.TargetRefused as exc:
        error = f"target refused: {exc}"
    except httpx.HTTPError as exc:
        error = repr(exc)
    latency = int((time.monotonic() - started) * 1000)
    session.add(
        WebhookAttempt(
            id=uuid.uuid4(),
            delivery_id=delivery.id,
            at=now,
            status_code=response.status_code if response is not None else None,
            latency_ms=latency,
            error=error,
            response_excerpt=response.text[:EXCERPT] if response is not None else None,
        )
    )
    delivery.attempts += 1
    delivery.last_status = response.status_code if response is not None else None
    delivery.last_error = error
    if response is not None and 200 <= response.status_code < 300:
        delivery.state, delivery.delivered_at = "delivered", now
        endpoint.failing_since = None
        OUTCOMES.labels("delivered").inc()
        return _Outcome(go_on=True)
    if response is not None and response.status_code == 410:
        endpoint.enabled, endpoint.disabled_reason = False, "the receiver answered 410 Gone"
        OUTCOMES.labels("gone").inc()
        return _Outcome(go_on=False, disabled=True)
    endpoint.failing_since = endpoint.failing_since or now
    disabled = now - endpoint.failing_since > DISABLE_AFTER
    if disabled:
        endpoint.enabled = False
        endpoint.disabled_reason = f"failing since {endpoint.failing_since.isoformat()}"
    if delivery.attempts > len(RETRY_SCHEDULE):
        delivery.state = "dead"
        OUTCOMES.labels("dead").inc()
        return _Outcome(go_on=not disabled, disabled=disabled)  # the next ones go on
    wait = RETRY_SCHEDULE[delivery.attempts - 1]
    delivery.next_attempt_at = now + max(wait, _retry_after(response) or wait)
    OUTCOMES.labels("retry").inc()
    return _Outcome(go_on=False, disabled=disabled)


async def deliver_next(
    resources: Resources, client: httpx.AsyncClient, endpoint_id: uuid.UUID
) -> bool:
    """Try the endpoint's oldest pending delivery if it is due; True to go on with the next.
    An attempt that disables the endpoint tells its admins (in the app, and by e-mail)."""
    queue = jobs.current()
    mail = queue.mail_options() if queue is not None else None
    told: list[NotificationRead] = []
    emails: list[uuid.UUID] = []
    async with resources.sessionmaker() as session, session.begin():
        endpoint = await session.scalar(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .with_for_update(skip_locked=True)
        )
        if endpoint is None or not endpoint.enabled:
            return False
        outcome = await _attempt(
            session,
            endpoint,
            client,
            allow_private=resources.settings.webhook_allow_private_targets,
        )
        if outcome.disabled:
            told = await notifications.notify_webhook_disabled(
                session,
                board_id=endpoint.board_id,
                webhook_id=endpoint.id,
                url=endpoint.url,
                reason=endpoint.disabled_reason or "",
                created_by=endpoint.created_by,
                at=utcnow(),
            )
            if mail is not None and told:
                emails = await notifications.write_emails(session, told, mail)
    await push(resources.redis, told)
    if queue is not None and emails:
        await queue.enqueue_emails(emails)
    return outcome.go_on


async def deliver_endpoint(
    resources: Resources, client: httpx.AsyncClient, endpoint_id: uuid.UUID
) -> None:
    for _ in range(1000):  # a bound: the sweep picks up the rest
        if not await deliver_next(resources, client, endpoint_id):
            return


async def due_endpoints(resources: Resources) -> list[uuid.UUID]:
    async with resources.sessionmaker() as session:
        rows = await session.scalars(
            select(WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= utcnow())
            .distinct()
            .limit(1000)
        )
        return list(rows.all())


async def _sweep(resources: Resources, stop: asyncio.Event) -> None:
    while not stop.is_set():
        queue = jobs.current()
        try:
            if queue is not None:
                await queue.enqueue_webhooks(await due_endpoints(resources))
        except Exception:
            log.exception("webhook sweep failed")
        await pause(stop, resources.settings.webhook_poll_seconds)


running_webhook_sweeper = background("webhook-sweeper", _sweep)
