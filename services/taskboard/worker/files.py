"""The worker's file jobs.

Thumbnails: the notifier enqueues `make_thumbnail` (a Dramatiq actor, worker/jobs.py) for each
`attachment.added` of an image; the job reads the file from storage, renders it off the event
loop (attachments.thumbnails.render, bounded in pixels), stores the WebP beside the file and
records it with `attachment.updated`. A job run twice records once.

Collection: once per TASKBOARD_FILE_COLLECT_INTERVAL_SECONDS across all workers (a Redis key
elects the one that runs), one pass:

1. removed attachments older than TASKBOARD_TRASH_RETENTION_DAYS: the rows are deleted and
   committed first, then their objects. A crash in between leaves objects no row references,
   which step 2 collects; the other order could leave a row whose file is gone.
2. objects under `boards/` that no row references (as file or thumbnail) and that are older
   than TASKBOARD_FILE_ORPHAN_GRACE_SECONDS: uploads whose process died before recording
   them, direct uploads never confirmed, files of deleted boards (their rows cascaded away),
   thumbnails whose record was lost. An object is complete before its row commits, so a young
   unreferenced object may be an upload about to record it: the grace keeps it.
3. the local store's staging files of killed uploads (Storage.remove_stale_partials).

Keys are looked up a batch at a time (one query per 1,000 listed objects)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Final

from prometheus_client import Counter, Gauge

from taskboard.attachments import collection, thumbnails
from taskboard.core.db import utcnow
from taskboard.core.lifecycle import pause
from taskboard.core.runtime import Resources, background
from taskboard.core.streams import StreamEvent
from taskboard.storage import ObjectNotFound, Storage, open_storage

log = logging.getLogger("taskboard.files")

THUMBNAILS = Counter(
    "taskboard_thumbnails",
    "Thumbnail jobs by outcome (made; skipped: nothing to do; too_many_pixels; undecodable; "
    "missing: no stored file; failed: raised, retried)",
    ["outcome"],
)
FILES_DELETED = Counter(
    "taskboard_files_deleted",
    "Stored objects the file collector deleted, by reason (orphan, removed, partial)",
    ["reason"],
)
ATTACHMENTS_PURGED = Counter(
    "taskboard_attachments_purged",
    "Removed attachments deleted after TASKBOARD_TRASH_RETENTION_DAYS",
)
COLLECTIONS = Counter(
    "taskboard_file_collections", "File collection passes by outcome", ["outcome"]
)
LAST_COLLECTED = Gauge(
    "taskboard_file_collection_last_success_timestamp_seconds",
    "When the last file collection pass this process ran finished (Unix time)",
    multiprocess_mode="livemax",
)

PREFIX: Final = "boards"  # every attachment's key is under it
BATCH: Final = 1000
DELETES_AT_ONCE: Final = 16
# What a thumbnail job holds of its source in memory; a larger file spills to a temp file.
SPOOL_BYTES: Final = 8 << 20
# Decodes one worker process runs at once: each may hold about 4 bytes per allowed pixel.
DECODES_AT_ONCE: Final = 2
ELECTION_KEY: Final = "tb:files:collector"
# How often each worker checks whether a pass is due (the pass itself runs once per interval).
CHECK_EVERY: Final = 60.0


def thumbnail_for(event: StreamEvent) -> uuid.UUID | None:
    """The attachment an event asks a thumbnail of: an image just added."""
    if event.type != "attachment.added":
        return None
    content_type, attachment_id = event.data.get("content_type"), event.data.get("id")
    if not isinstance(content_type, str) or not thumbnails.wanted(content_type):
        return None
    try:
        return uuid.UUID(str(attachment_id))
    except ValueError:
        return None


async def make_thumbnail(
    resources: Resources,
    storage: Storage,
    attachment_id: uuid.UUID,
    *,
    decodes: asyncio.Semaphore | None = None,
) -> str:
    """Make and record the attachment's thumbnail if it still wants one; the outcome. Raises
    on what may pass (the store or the database failing, a thumbnail lost to the collector):
    the caller retries, and a retry redoes only what is missing."""
    try:
        outcome = await _make(resources, storage, attachment_id, decodes)
    except Exception:
        THUMBNAILS.labels("failed").inc()
        raise
    THUMBNAILS.labels(outcome).inc()
    return outcome


async def _make(
    resources: Resources,
    storage: Storage,
    attachment_id: uuid.UUID,
    decodes: asyncio.Semaphore | None,
) -> str:
    row = await thumbnails.to_make(resources, attachment_id)
    if row is None:
        return "skipped"  # gone, removed, not an image, or made already
    about = {"attachment_id": str(attachment_id), "board_id": str(row.board_id)}
    key = thumbnails.key_for(row.storage_key)
    max_pixels = resources.settings.thumbnail_max_pixels
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            await _copy(storage, row.storage_key, spool)
            async with decodes or contextlib.nullcontext():
                data = await asyncio.to_thread(
                    thumbnails.render, spool, row.content_type, max_pixels=max_pixels
                )
    except ObjectNotFound:
        log.warning("attachment has no stored file: no thumbnail", extra=about)
        return "missing"
    except thumbnails.TooManyPixels as exc:
        log.warning("image too large to decode: no thumbnail", extra={**about, "why": str(exc)})
        return "too_many_pixels"
    except thumbnails.Unrenderable as exc:
        log.warning("image not decodable: no thumbnail", extra={**about, "why": str(exc)})
        return "undecodable"
    # Overwrites what an earlier try stored but could not record.
    await storage.put(key, data)
    if await thumbnails.record(resources, storage, attachment_id, key) is None:
        return "skipped"  # recorded by a duplicate job meanwhile, or removed
    log.info("thumbnail made", extra={**about, "bytes": len(data)})
    return "made"


async def _copy(storage: Storage, key: str, spool: tempfile.SpooledTemporaryFile[bytes]) -> None:
    reader = await storage.open_read(key)
    try:
        async for chunk in reader:
            # Past SPOOL_BYTES the spool is a file on disk: a write may block.
            await asyncio.to_thread(spool.write, chunk)
    finally:
        await reader.aclose()
    spool.seek(0)


@dataclass
class Collected:
    """What one pass did."""

    scanned: int = 0  # objects listed under boards/
    young: int = 0  # not examined: younger than the grace
    orphans: int = 0  # deleted: no row referenced them
    purged_rows: int = 0  # removed attachments past the retention, deleted
    purged_objects: int = 0  # their files and thumbnails
    partials: int = 0  # staging files of killed uploads (local store)


async def collect(
    resources: Resources,
    storage: Storage,
    *,
    now: datetime,
    grace: timedelta,
    retention: timedelta,
    stop: asyncio.Event | None = None,
) -> Collected:
    """One collection pass as of `now` (see the module's docstring). `stop` ends it between
    batches; what is left waits for the next pass."""
    done = Collected()
    await _purge_removed(resources, storage, now - retention, done)
    await _collect_orphans(resources, storage, now - grace, done, stop)
    # The same instant for staging files (their age is read from the real clock).
    older_than = max(timedelta(0), utcnow() - (now - grace))
    done.partials = await storage.remove_stale_partials(older_than)
    FILES_DELETED.labels("partial").inc(done.partials)
    return done


async def _purge_removed(
    resources: Resources, storage: Storage, before: datetime, done: Collected
) -> None:
    while True:
        async with resources.sessionmaker() as session, session.begin():
            rows = await collection.purge_removed(session, before, BATCH)
        # The rows are gone (committed); now their objects. A crash here leaves objects no
        # row references, old enough for the orphan step.
        keys = [key for pair in rows for key in pair if key is not None]
        await _delete_all(storage, keys)
        done.purged_rows += len(rows)
        done.purged_objects += len(keys)
        ATTACHMENTS_PURGED.inc(len(rows))
        FILES_DELETED.labels("removed").inc(len(keys))
        if len(rows) < BATCH:
            return


async def _collect_orphans(
    resources: Resources,
    storage: Storage,
    cutoff: datetime,
    done: Collected,
    stop: asyncio.Event | None,
) -> None:
    batch: list[str] = []
    async for info in storage.list(PREFIX):
        done.scanned += 1
        if info.last_modified >= cutoff:
            done.young += 1  # perhaps an upload whose row is about to commit
            continue
        batch.append(info.key)
        if len(batch) >= BATCH:
            done.orphans += await _delete_orphans(resources, storage, batch)
            batch = []
            if stop is not None and stop.is_set():
                return
    if batch:
        done.orphans += await _delete_orphans(resources, storage, batch)


async def _delete_orphans(resources: Resources, storage: Storage, keys: list[str]) -> int:
    """Delete the keys no row references; how many. A first lookup without locks finds the
    suspects (nearly always none); a second holds their rows, if any, while deleting."""
    async with resources.sessionmaker() as session:
        known = await collection.referenced(session, keys)
    suspects = [key for key in keys if key not in known]
    if not suspects:
        return 0
    async with resources.sessionmaker() as session, session.begin():
        known = await collection.referenced(session, suspects, lock=True)
        orphans = [key for key in suspects if key not in known]
        await _delete_all(storage, orphans)
    FILES_DELETED.labels("orphan").inc(len(orphans))
    return len(orphans)


async def _delete_all(storage: Storage, keys: Iterable[str]) -> None:
    slots = asyncio.Semaphore(DELETES_AT_ONCE)

    async def one(key: str) -> None:
        async with slots:
            await storage.delete(key)

    await asyncio.gather(*(one(key) for key in keys))


async def collect_if_due(
    resources: Resources, storage: Storage, stop: asyncio.Event | None = None
) -> Collected | None:
    """Run a pass unless another worker has run one within the interval (None then): the
    first to set the election key, which lives as long as the interval, runs it."""
    settings = resources.settings
    interval_ms = max(1, int(settings.file_collect_interval_seconds * 1000))
    elected = await resources.redis.set(ELECTION_KEY, settings.pod_name, nx=True, px=interval_ms)
    if not elected:
        return None
    try:
        done = await collect(
            resources,
            storage,
            now=utcnow(),
            grace=timedelta(seconds=settings.file_orphan_grace_seconds),
            retention=timedelta(days=settings.trash_retention_days),
            stop=stop,
        )
    except Exception:
        COLLECTIONS.labels("failed").inc()
        # Any worker may try again at its next check rather than after a whole interval.
        with contextlib.suppress(Exception):
            await resources.redis.delete(ELECTION_KEY)
        raise
    COLLECTIONS.labels("done").inc()
    LAST_COLLECTED.set(time.time())
    log.info("files collected", extra={"collected": asdict(done)})
    return done


async def run(resources: Resources, stop: asyncio.Event) -> None:
    if resources.settings.storage_url is None:
        return  # no file storage, nothing to collect
    storage = open_storage(resources.settings)
    for outcome in ("done", "failed"):
        COLLECTIONS.labels(outcome)
    try:
        while not stop.is_set():
            try:
                await collect_if_due(resources, storage, stop)
            except Exception:
                log.exception("file collection failed")
            await pause(stop, min(CHECK_EVERY, resources.settings.file_collect_interval_seconds))
    finally:
        await storage.aclose()


running_file_collector = background("file-collector", run)
