"""Import jobs: asked for through the api (validated, stored, queued), built by the worker
(`run`), watched through GET /imports/{id} and the importer's socket."""

from __future__ import annotations

import logging
import uuid
import zlib
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError
from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError, IntegrityError

from taskboard.access.models import Membership
from taskboard.auth.principal import Principal
from taskboard.core import quotas
from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import FieldProblem, TaskboardError, ValidationFailed
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.transfer import builder, push, queue, rules
from taskboard.transfer.document import BoardDocument
from taskboard.transfer.errors import ImportNotFound
from taskboard.transfer.models import ImportJob
from taskboard.transfer.schemas import ImportJobRead, ImportResult
from taskboard.users import repository as users_repository

log = logging.getLogger("taskboard.transfer")


def read(job: ImportJob) -> ImportJobRead:
    return ImportJobRead(
        id=job.id,
        source=job.source,
        status=job.status,
        progress=job.progress,
        total=job.total,
        board_id=job.board_id,
        result=ImportResult.model_validate(job.result) if job.result is not None else None,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


async def submit(
    uow: UnitOfWork,
    principal: Principal,
    *,
    source: str,
    document: BoardDocument,
    body_sha256: str,
    key: str | None,
    settings: Settings,
    notes: ImportResult | None = None,
) -> tuple[ImportJobRead, bool]:
    """Queue an import of `document` into a new board; returns the job and whether it is one
    asked for before (the same Idempotency-Key, or without one the same body within
    TASKBOARD_IMPORT_DEDUP_SECONDS), which is answered as it now stands."""
    session = uow.session
    # The user's row serializes their imports: a retry racing the first sees its job.
    await users_repository.lock(session, principal.user_id)
    now = utcnow()
    mine = select(ImportJob).where(ImportJob.user_id == principal.user_id)
    if key is not None:
        since = now - timedelta(seconds=settings.idempotency_ttl_seconds)
        found = await session.scalar(
            mine.where(ImportJob.idempotency_key == key, ImportJob.created_at >= since)
            .order_by(ImportJob.created_at.desc())
            .limit(1)
        )
        if found is not None:
            if found.document_sha256 != body_sha256 or found.source != source:
                raise ValidationFailed(
                    "This Idempotency-Key was used with a different request",
                    fields=[
                        FieldProblem("Idempotency-Key", "reused", "was used for another import")
                    ],
                )
            return read(found), True
    else:
        since = now - timedelta(seconds=settings.import_dedup_seconds)
        found = await session.scalar(
            mine.where(
                ImportJob.document_sha256 == body_sha256,
                ImportJob.source == source,
                ImportJob.idempotency_key.is_(None),
                ImportJob.status != "failed",
                ImportJob.created_at >= since,
            )
            .order_by(ImportJob.created_at.desc())
            .limit(1)
        )
        if found is not None:
            return read(found), True
    rules.check(document, settings)
    # Refused now rather than by the worker later (which checks again, under the same lock).
    await quotas.enforce(
        session,
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == principal.user_id, Membership.role == "owner"),
        limit=settings.quota_boards_per_user,
        what="boards owned",
    )
    job = ImportJob(
        id=uuid.uuid4(),
        user_id=principal.user_id,
        source=source,
        status="queued",
        progress=0,
        total=builder.work_of(document),
        document=document.model_dump_json(),
        document_sha256=body_sha256,
        idempotency_key=key,
        result=notes.model_dump(mode="json") if notes is not None else None,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    job_id, redis_url = job.id, settings.redis_url

    async def hand_over() -> None:
        await queue.enqueue(redis_url, job_id)

    uow.after_commit.append(hand_over)
    return read(job), False


async def get(uow: UnitOfWork, principal: Principal, job_id: uuid.UUID) -> ImportJobRead:
    """The importer's own jobs only; anyone else's do not exist for them."""
    job = await uow.session.get(ImportJob, job_id)
    if job is None or job.user_id != principal.user_id:
        raise ImportNotFound()
    return read(job)


# ---- the worker's side

PERMANENT = (TaskboardError, ValidationError, IntegrityError, DataError)


def _lock_key(job_id: uuid.UUID) -> int:
    """The job's advisory lock: one worker builds a job at a time."""
    return zlib.crc32(b"import:" + job_id.bytes)


async def _set(resources: Resources, job_id: uuid.UUID, **values: Any) -> ImportJobRead | None:
    """Change the job in a transaction of its own (committed at once, seen by GET and kept
    whatever the build does), then tell the importer's sockets."""
    async with resources.sessionmaker() as session, session.begin():
        job = await session.scalar(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(**values, updated_at=utcnow())
            .returning(ImportJob)
        )
        if job is None:
            return None
        user_id, current = job.user_id, read(job)
    await announce(resources, user_id, current)
    return current


async def announce(resources: Resources, user_id: uuid.UUID, job: ImportJobRead) -> None:
    try:
        await resources.redis.publish(push.CHANNEL, push.encode(user_id, job))
    except (RedisError, OSError) as exc:  # best effort: GET /imports/{id} is the truth
        log.warning("import progress not announced", extra={"error": repr(exc)})


async def run(resources: Resources, job_id: uuid.UUID, *, final: bool = True) -> None:
    """Build the job's board, all or nothing: the board and the job's `done` commit together,
    so a job run twice (a redelivered message, a sweep) makes one board. A failure leaves no
    board; it marks the job failed when `final` (or when running again cannot help), else it
    is raised for Dramatiq to retry."""
    settings = resources.settings
    try:
        async with unit_of_work(resources) as uow:
            session = uow.session
            mine = await session.scalar(select(func.pg_try_advisory_xact_lock(_lock_key(job_id))))
            if not mine:
                return  # another worker is building it
            job = await session.scalar(
                select(ImportJob)
                .where(ImportJob.id == job_id)
                .execution_options(populate_existing=True)
            )
            if job is None or job.status in ("done", "failed") or job.document is None:
                return
            user_id = job.user_id
            document = BoardDocument.model_validate_json(job.document)
            rules.check(document, settings)  # the quotas may have changed since
            total = builder.work_of(document)
            await _set(
                resources,
                job_id,
                status="running",
                attempts=ImportJob.attempts + 1,
                started_at=utcnow(),
                progress=0,
                total=total,
            )

            async def progress(done: int) -> None:
                await _set(resources, job_id, progress=done)

            notes = ImportResult.model_validate(job.result) if job.result else ImportResult()
            board_id, result = await builder.build(
                uow,
                user_id=user_id,
                document=document,
                source=job.source,
                job_id=job_id,
                settings=settings,
                result=notes,
                progress=progress,
            )
            job.status = "done"
            job.board_id = board_id
            job.result = result.model_dump(mode="json")
            job.progress = job.total = total
            job.document = None
            job.finished_at = utcnow()
            await session.flush()
            finished = read(job)
    except PERMANENT as exc:
        await _fail(resources, job_id, _describe(exc))
        return
    except Exception as exc:
        if not final:
            raise
        log.exception("import failed", extra={"import_id": str(job_id)})
        await _fail(resources, job_id, f"the import could not be completed ({type(exc).__name__})")
        return
    await announce(resources, user_id, finished)


async def _fail(resources: Resources, job_id: uuid.UUID, error: str) -> None:
    await _set(resources, job_id, status="failed", error=error, document=None, finished_at=utcnow())


def _describe(exc: Exception) -> str:
    if isinstance(exc, TaskboardError):
        return exc.detail
    if isinstance(exc, ValidationError):
        return f"the stored document is not valid: {exc.error_count()} problems"
    return "the board could not be written: " + str(getattr(exc, "orig", exc)).splitlines()[0]


async def stale(
    resources: Resources, *, queued_for: timedelta, running_for: timedelta
) -> list[uuid.UUID]:
    """Jobs whose message may be lost: queued and untouched for `queued_for`, or running with
    no progress for `running_for` (their worker died and Redis lost the message too). Touched,
    so the next sweep leaves them alone for as long again."""
    now = utcnow()
    async with resources.sessionmaker() as session, session.begin():
        rows = await session.scalars(
            update(ImportJob)
            .where(
                ((ImportJob.status == "queued") & (ImportJob.updated_at < now - queued_for))
                | ((ImportJob.status == "running") & (ImportJob.updated_at < now - running_for))
            )
            .values(updated_at=now)
            .returning(ImportJob.id)
        )
        return list(rows)
