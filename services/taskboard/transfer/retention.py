"""What the import side keeps: a finished import job (done or failed) is deleted after the
retention, its board long made or its error long read; one queued or running stays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.db import delete_batch
from taskboard.transfer.models import ImportJob


async def prune_import_jobs(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` jobs that finished before `before` (ix_import_jobs_status_updated_at:
    a finished job is not updated again); how many went."""
    return await delete_batch(
        session,
        ImportJob,
        ImportJob.status.in_(("done", "failed")),
        ImportJob.updated_at < before,
        limit=limit,
    )
