"""The worker's Dramatiq side: the Redis broker, the actors, and the Dramatiq worker threads
of this process. Async actors run on the process's own event loop (the one serving /healthz
and running the notifier), so they share its database pool and Redis client; Dramatiq's
AsyncIO middleware would start a second loop whose clients could not be shared."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import dramatiq
import httpx
from dramatiq.asyncio import EventLoopThread, set_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Middleware
from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import and_, func, or_, select

from taskboard.core.config import Settings
from taskboard.core.db import utcnow
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources
from taskboard.core.telemetry import continued, current_traceparent
from taskboard.notifications import unsubscribe
from taskboard.notifications.models import EmailOutbox, Notification
from taskboard.notifications.service import MailOptions
from taskboard.storage import open_storage
from taskboard.worker import files, imports, mail, webhooks

log = logging.getLogger("taskboard.worker")

EMAILS = Counter("taskboard_emails", "E-mail sends by outcome", ["outcome"])
ACTOR_RUNS = Counter(
    "taskboard_actor_runs", "Actor runs by actor and outcome", ["actor", "outcome"]
)
ACTOR_SECONDS = Histogram("taskboard_actor_seconds", "Actor run time", ["actor"])
# Sampled values of shared state: with several processes a pod shows one (the largest of the
# live processes'), not one per process.
QUEUE_DEPTH = Gauge(
    "taskboard_queue_depth",
    "Messages waiting in a Dramatiq queue",
    ["queue"],
    multiprocess_mode="livemax",
)
QUEUE_DEAD = Gauge(
    "taskboard_queue_dead_letters",
    "Messages Dramatiq gave up on, in dramatiq:<queue>.XQ (kept there for a week)",
    ["queue"],
    multiprocess_mode="livemax",
)
EMAIL_QUEUE = "email"
WEBHOOK_QUEUE = "webhooks"
THUMBNAIL_QUEUE = "thumbnails"


class _ProcessLoop(EventLoopThread):
    """Dramatiq's handle on an event loop, for a loop this process already runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        threading.Thread.__init__(self, daemon=True)  # never started: the loop runs already
        self.interrupt_check_ival = 0.1
        self.logger = logging.getLogger("taskboard.worker.loop")
        self.loop = loop

    def start(self, *, timeout: float | None = None) -> None:
        return None

    def stop(self) -> None:
        return None


class SharedLoop(Middleware):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        set_event_loop_thread(_ProcessLoop(self.loop))

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        set_event_loop_thread(None)


class Jobs:
    """One per worker process: what the notifier enqueues to, and what the actors read."""

    def __init__(self, resources: Resources, broker: RedisBroker) -> None:
        self.resources = resources
        self.settings: Settings = resources.settings
        self.broker = broker
        self.send_email = dramatiq.actor(
            broker=broker,
            actor_name="send_email",
            queue_name=EMAIL_QUEUE,
            max_retries=self.settings.email_max_retries,
            min_backoff=5_000,
            max_backoff=3_600_000,
        )(self._send_email)
        # Our own retry schedule lives in PostgreSQL (webhooks.service.RETRY_SCHEDULE).
        self.deliver_webhooks = dramatiq.actor(
            broker=broker,
            actor_name="deliver_webhooks",
            queue_name=WEBHOOK_QUEUE,
            max_retries=0,
        )(self._deliver_webhooks)
        # Board imports (transfer.service.run); the api sends their messages.
        self.import_board = dramatiq.actor(
            broker=broker,
            actor_name=imports.ACTOR,
            queue_name=imports.QUEUE,
            max_retries=imports.MAX_RETRIES,
            time_limit=imports.TIME_LIMIT_MS,
        )(self._import_board)
        # Thumbnails of image attachments (worker/files.py): a store failing is retried.
        self.make_thumbnail = dramatiq.actor(
            broker=broker,
            actor_name="make_thumbnail",
            queue_name=THUMBNAIL_QUEUE,
            max_retries=8,
            min_backoff=5_000,
            max_backoff=600_000,
        )(self._make_thumbnail)
        self.storage = open_storage(self.settings) if self.settings.storage_url else None
        self.decodes = asyncio.Semaphore(files.DECODES_AT_ONCE)
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=10, trust_env=False)
        smtp_url = self.settings.smtp_url
        # One SMTP session per thread at most, reused from message to message.
        self.sender = (
            mail.Sender(smtp_url.get_secret_value(), size=self.settings.worker_threads)
            if smtp_url is not None
            else None
        )

    def mail_options(self) -> MailOptions | None:
        if self.settings.smtp_url is None:
            return None
        domain = self.settings.smtp_from.rpartition("@")[2].strip(" >") or "taskboard.local"
        return MailOptions(
            public_url=self.settings.public_url.rstrip("/"),
            domain=domain,
            secret=self.settings.secret_key.get_secret_value(),
        )

    async def enqueue_emails(
        self, ids: Iterable[uuid.UUID], *, wait: bool = True, traceparent: str | None = None
    ) -> None:
        """Queue sends; with `wait`, after the digest window, so that notifications arriving
        close together leave as one e-mail. The message carries the W3C trace context (the
        current one unless given) in its options, and the actor goes on in that trace."""
        delay = int(self.settings.email_digest_seconds * 1000) if wait else 0
        options = _trace_options(traceparent)

        def send_all(outbox_ids: list[uuid.UUID]) -> None:
            for outbox_id in outbox_ids:
                self.send_email.send_with_options(
                    args=(str(outbox_id),), delay=delay or None, **options
                )

        outbox_ids = list(ids)
        if outbox_ids:
            # Redis round trips on the broker's own (blocking) client: off the loop, one hop.
            await asyncio.to_thread(send_all, outbox_ids)

    async def enqueue_webhooks(
        self, endpoint_ids: Iterable[uuid.UUID], *, traceparent: str | None = None
    ) -> None:
        options = _trace_options(traceparent)
        for endpoint_id in endpoint_ids:
            await asyncio.to_thread(
                self.deliver_webhooks.send_with_options, args=(str(endpoint_id),), **options
            )

    async def _deliver_webhooks(self, endpoint_id: str) -> None:
        with continued("deliver_webhooks", _message_traceparent(), webhook_id=endpoint_id):
            async with _measured("deliver_webhooks"):
                await webhooks.deliver_endpoint(self.resources, self.http, uuid.UUID(endpoint_id))

    async def enqueue_thumbnails(self, wanted: dict[uuid.UUID, str | None]) -> None:
        """Queue a thumbnail job per attachment, each in the trace of the event that asked
        (nothing without file storage)."""
        if self.storage is None:
            return
        for attachment_id, traceparent in wanted.items():
            await asyncio.to_thread(
                self.make_thumbnail.send_with_options,
                args=(str(attachment_id),),
                **_trace_options(traceparent),
            )

    async def _make_thumbnail(self, attachment_id: str) -> None:
        with continued("make_thumbnail", _message_traceparent(), attachment_id=attachment_id):
            async with _measured("make_thumbnail"):
                if self.storage is not None:
                    await files.make_thumbnail(
                        self.resources,
                        self.storage,
                        uuid.UUID(attachment_id),
                        decodes=self.decodes,
                    )

    async def _import_board(self, job_id: str) -> None:
        async with _measured(imports.ACTOR):
            await imports.import_board(self.resources, job_id)

    async def _send_email(self, outbox_id: str) -> None:
        with continued("send_email", _message_traceparent(), outbox_id=outbox_id):
            async with _measured("send_email"):
                await self._send_email_once(outbox_id)

    async def _send_email_once(self, outbox_id: str) -> None:
        """Send one outbox row, with every other pending e-mail of its user as one digest
        (when TASKBOARD_EMAIL_DIGEST_SECONDS gathers them) and without those whose
        notification was read in the app meanwhile. Idempotent: a row already sent (a
        duplicate message, or part of an earlier digest) or being sent by another worker
        (locked) is left alone."""
        if self.sender is None:
            return
        retries = _retries()
        outbox_key = uuid.UUID(outbox_id)
        digests = self.settings.email_digest_seconds > 0
        async with self.resources.sessionmaker() as session, session.begin():
            if digests:
                user_id = await session.scalar(
                    select(EmailOutbox.user_id).where(
                        EmailOutbox.id == outbox_key, EmailOutbox.state == "pending"
                    )
                )
                if user_id is None:
                    return
                # One sender per recipient at a time: two messages run at once (rows written
                # in one transaction, due together) would otherwise each lock its own row,
                # skip the other's, and send two e-mails where the digest promises one. The
                # second waits here, then finds its row sent with the first.
                await session.execute(
                    select(func.pg_advisory_xact_lock(func.hashtextextended(str(user_id), 0)))
                )
            # Each row with whether its notification was read in the app meanwhile.
            pending = (
                select(EmailOutbox, Notification.read_at.is_not(None))
                .join(Notification, Notification.id == EmailOutbox.notification_id)
                .where(EmailOutbox.state == "pending")
                .with_for_update(of=EmailOutbox, skip_locked=True)
            )
            found = (await session.execute(pending.where(EmailOutbox.id == outbox_key))).first()
            if found is None:
                return
            row = found[0]
            rows = [found.tuple()]
            if digests:
                rows += [
                    each.tuple()
                    for each in await session.execute(
                        pending.where(EmailOutbox.user_id == row.user_id, EmailOutbox.id != row.id)
                        .order_by(EmailOutbox.created_at)
                        .limit(DIGEST_LIMIT - 1)
                    )
                ]
            batch = [each for each, _ in rows]
            read = {each.notification_id for each, was_read in rows if was_read}
            for seen in [r for r in batch if r.notification_id in read]:
                seen.state = "skipped"  # read in the app already
                EMAILS.labels("skipped").inc()
            batch = [r for r in batch if r.notification_id not in read]
            if not batch:
                return
            message = self._message(batch)
            now = utcnow()
            for each in batch:
                each.attempts += 1
                each.last_attempt_at = now
            try:
                await self.sender.send(message)
            except mail.PermanentFailure as exc:
                for each in batch:
                    each.state, each.last_error = "dead", str(exc)[:1000]
                EMAILS.labels("dead").inc()
                log.warning("e-mail refused for good", extra={"outbox_id": outbox_id})
                return
            except mail.TransientFailure as exc:
                for each in batch:
                    each.last_error = str(exc)[:1000]
                if retries >= self.settings.email_max_retries:
                    for each in batch:
                        each.state = "dead"
                    EMAILS.labels("dead").inc()
                    return
                EMAILS.labels("retry").inc()
                failure = exc
            else:
                for each in batch:
                    each.state, each.sent_at = "sent", utcnow()
                EMAILS.labels("sent").inc()
                return
        raise failure  # after the commit that recorded the attempt: Dramatiq retries later

    def _message(self, batch: list[EmailOutbox]) -> EmailMessage:
        first = batch[0]
        if len(batch) == 1:
            subject, text, html = first.subject, first.text_body, first.html_body
        else:
            subject, text, html = digest(batch)
        return mail.build(
            sender=self.settings.smtp_from,
            to=first.to_address,
            subject=subject,
            text=text,
            html=html,
            message_id=first.message_id,  # a digest is named after its first e-mail
            unsubscribe_url=unsubscribe.url(
                self.settings.public_url.rstrip("/"),
                self.settings.secret_key.get_secret_value(),
                first.user_id,
            ),
        )


DIGEST_LIMIT = 50


def digest(batch: list[EmailOutbox]) -> tuple[str, str, str]:
    """One e-mail for several: their subjects as a list, each with its text below."""
    subject = f"{len(batch)} new notifications on taskboard"
    text = "\n\n---\n\n".join(r.text_body for r in batch)
    html = "<hr>".join(r.html_body for r in batch)
    return subject, text, html


# A pending e-mail nobody tried for this long lost its message (the worker died between
# commit and enqueue, or Redis lost its queue): it is enqueued again. Longer than the
# longest retry backoff, so a row merely waiting for its retry is left alone.
RESEND_AFTER = timedelta(hours=2)
NEVER_TRIED_AFTER = timedelta(minutes=1)


async def enqueue_forgotten(jobs: Jobs) -> int:
    now = utcnow()
    async with jobs.resources.sessionmaker() as session:
        ids = (
            await session.scalars(
                select(EmailOutbox.id)
                .where(
                    EmailOutbox.state == "pending",
                    or_(
                        and_(
                            EmailOutbox.attempts == 0,
                            EmailOutbox.created_at < now - NEVER_TRIED_AFTER,
                        ),
                        EmailOutbox.last_attempt_at < now - RESEND_AFTER,
                    ),
                )
                .limit(1000)
            )
        ).all()
    await jobs.enqueue_emails(ids, wait=False)
    return len(ids)


async def _sweep(jobs: Jobs, stop: asyncio.Event) -> None:
    last_resend = 0.0
    while not stop.is_set():
        try:
            await sample_queues(jobs.resources)
            if jobs.sender is not None:
                jobs.sender.prune()
            if time.monotonic() - last_resend > 60:
                last_resend = time.monotonic()
                if await enqueue_forgotten(jobs):
                    log.info("re-enqueued forgotten e-mails")
        except Exception:
            log.exception("e-mail sweep failed")
        await pause(stop, 5)


@asynccontextmanager
async def _measured(actor: str) -> AsyncIterator[None]:
    started = time.monotonic()
    try:
        yield
    except BaseException:
        ACTOR_RUNS.labels(actor, "failed").inc()
        raise
    else:
        ACTOR_RUNS.labels(actor, "done").inc()
    finally:
        ACTOR_SECONDS.labels(actor).observe(time.monotonic() - started)


async def sample_queues(resources: Resources) -> None:
    """Ready messages per queue (the list Dramatiq's Redis broker pops; what KEDA scales on),
    and the messages it gave up on after their last retry (a sorted set, by time of death)."""
    for queue in (EMAIL_QUEUE, WEBHOOK_QUEUE, THUMBNAIL_QUEUE, imports.QUEUE):
        QUEUE_DEPTH.labels(queue).set(await resources.redis.llen(f"dramatiq:{queue}"))
        QUEUE_DEAD.labels(queue).set(await resources.redis.zcard(f"dramatiq:{queue}.XQ"))


def _trace_options(traceparent: str | None) -> dict[str, Any]:
    traceparent = traceparent or current_traceparent()
    return {"traceparent": traceparent} if traceparent else {}


def _message_traceparent() -> str | None:
    message = CurrentMessage.get_current_message()
    value = message.options.get("traceparent") if message is not None else None
    return str(value) if value else None


def _retries() -> int:
    message = CurrentMessage.get_current_message()
    return int(message.options.get("retries", 0)) if message is not None else 0


_current: Jobs | None = None


def current() -> Jobs | None:
    """This process's jobs, when the worker runs them (the notifier asks)."""
    return _current


@asynccontextmanager
async def running_jobs(_app: FastAPI, resources: Resources) -> AsyncIterator[None]:
    global _current
    settings = resources.settings
    broker = RedisBroker(url=settings.redis_url)  # type: ignore[no-untyped-call]
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(SharedLoop(asyncio.get_running_loop()))
    jobs = Jobs(resources, broker)
    # Listed at 0 from the start.
    for actor in ("send_email", "deliver_webhooks", "make_thumbnail"):
        for outcome in ("done", "failed"):
            ACTOR_RUNS.labels(actor, outcome)
    worker = dramatiq.Worker(broker, worker_threads=settings.worker_threads)
    worker.start()
    _current = jobs
    stop = asyncio.Event()
    sweeper = asyncio.create_task(_sweep(jobs, stop), name="email-sweeper")
    try:
        yield
    finally:
        _current = None
        stop.set()
        await sweeper
        # Actors in flight finish (within the grace the chart gives the pod); their loop is
        # this one, so it must keep running meanwhile: stop from a thread.
        timeout_ms = int(settings.worker_shutdown_timeout_seconds * 1000)
        await asyncio.to_thread(worker.stop, timeout_ms)
        broker.close()
        if jobs.sender is not None:
            await jobs.sender.close()
        await jobs.http.aclose()
        if jobs.storage is not None:
            await jobs.storage.aclose()
