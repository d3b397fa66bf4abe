"""What the file collector asks of the attachments table: which stored keys rows still
reference, and the removed rows whose retention is over. The worker (worker/files.py) walks
the store and deletes; these are its lookups, a batch of keys per query."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.attachments.models import Attachment
from taskboard.attachments.thumbnails import owner_key


async def referenced(session: AsyncSession, keys: Iterable[str], *, lock: bool = False) -> set[str]:
    """The keys among `keys` some row references, as its file or its thumbnail (removed rows
    included: their files stay until the retention ends). One query over the unique index on
    storage_key: a thumbnail is looked up by the file it belongs to (`<key>.thumb.webp`).

    With `lock`, the rows found are held FOR SHARE until the caller's transaction ends: no
    thumbnail can be recorded on them meanwhile (attachments.thumbnails.record looks at its
    object again once it holds the row), so what is deleted under this lock stays
    unreferenced."""
    wanted = set(keys)
    owners = sorted({owner_key(key) for key in wanted})
    if not owners:
        return set()
    query = select(Attachment.storage_key, Attachment.thumbnail_key).where(
        Attachment.storage_key.in_(owners)
    )
    if lock:
        query = query.with_for_update(read=True)
    found: set[str] = set()
    for storage_key, thumbnail_key in (await session.execute(query)).all():
        found.add(storage_key)
        if thumbnail_key is not None:
            found.add(thumbnail_key)
    return found & wanted


async def purge_removed(
    session: AsyncSession, before: datetime, limit: int
) -> list[tuple[str, str | None]]:
    """Delete up to `limit` rows removed before `before`; the keys of the objects they held
    (file, thumbnail), for the caller to delete once this has committed. Rows another
    collector holds are skipped."""
    due = (
        select(Attachment.id)
        .where(Attachment.deleted_at < before)
        .order_by(Attachment.deleted_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(Attachment)
        .where(Attachment.id.in_(due))
        .returning(Attachment.storage_key, Attachment.thumbnail_key)
    )
    return [(row[0], row[1]) for row in result.all()]
