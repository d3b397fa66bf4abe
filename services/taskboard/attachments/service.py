"""Attachments: upload streams to storage first and writes the row (with its event) after, so
the board's lock is never held while bytes move; download only for those who see the board."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on

from taskboard.access.roles import Role
from taskboard.access.service import require_role
from taskboard.attachments.errors import AttachmentNotFound
from taskboard.attachments.models import Attachment
from taskboard.attachments.schemas import AttachmentRead
from taskboard.auth.principal import Principal
from taskboard.core import quotas
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.events import log as events
from taskboard.storage import (
    Disposition,
    ObjectTooLarge,
    ReadStream,
    Storage,
    inline_safe,
    is_markup,
)
from taskboard.tasks import repository as tasks_repository
from taskboard.tasks.errors import TaskDeleted
from taskboard.tasks.service import board_of_task

MAX_FILENAME = 255


def read(row: Attachment) -> AttachmentRead:
    return AttachmentRead(
        id=row.id,
        task_id=row.task_id,
        board_id=row.board_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        has_thumbnail=row.thumbnail_key is not None,
    )


def clean_filename(raw: str) -> str:
    """The name as shown and offered for saving: no path, no control characters, never
    empty."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if not name:
        # Nothing printable was left ("../", control characters): the bytes still deserve a
        # name to be saved under.
        name = "attachment"
    if len(name) > MAX_FILENAME:  # shortened, keeping a plausible extension
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = f"{stem[: MAX_FILENAME - len(ext) - 1]}.{ext}"
        else:
            name = name[:MAX_FILENAME]
    return name


def object_key(board_id: uuid.UUID, task_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    """Never reused: a new id for every file (so a collected key never hits a new file)."""
    return f"boards/{board_id}/tasks/{task_id}/{attachment_id}"


async def stored_on_board(uow: UnitOfWork, board_id: uuid.UUID) -> int:
    total = await uow.session.execute(
        select(func.coalesce(func.sum(Attachment.size), 0)).where(
            Attachment.board_id == board_id, Attachment.deleted_at.is_(None)
        )
    )
    return int(total.scalar_one())


def check_quota(held: int, adding: int, quota: int) -> None:
    if held + adding > quota:
        raise quotas.QuotaExceeded(
            f"The board's files may take at most {quota} bytes ({held} held); remove some first",
            extra={"quota": "board storage bytes", "limit": quota, "held": held},
        )


async def writable_task(uow: UnitOfWork, principal: Principal, task_id: uuid.UUID) -> uuid.UUID:
    board_id = await board_of_task(uow, principal, task_id, "member")
    if await tasks_repository.is_deleted(uow.session, task_id):
        raise TaskDeleted("The task is in the trash; restore it to attach files")
    return board_id


async def upload(
    resources: Resources,
    storage: Storage,
    principal: Principal,
    task_id: uuid.UUID,
    *,
    filename: str,
    chunks: AsyncIterable[bytes],
    declared_size: int | None,
) -> AttachmentRead:
    """Stream `chunks` to storage, then record the file. Past the cap the stream stops at once
    (413) and nothing is kept; if the record cannot be written the object is removed; a
    crash between the two leaves an object without a row, which the collector removes."""
    settings = resources.settings
    name = clean_filename(filename)
    if declared_size is not None and declared_size > settings.attachment_max_bytes:
        raise ObjectTooLarge(settings.attachment_max_bytes)
    # Refuse early what would be refused anyway: no bytes move for a viewer or a full board.
    async with unit_of_work(resources) as uow:
        board_id = await writable_task(uow, principal, task_id)
        check_quota(
            await stored_on_board(uow, board_id),
            declared_size or 0,
            settings.board_storage_quota_bytes,
        )
    attachment_id = uuid.uuid4()
    key = object_key(board_id, task_id, attachment_id)
    stored = await storage.put_stream(key, chunks, max_bytes=settings.attachment_max_bytes)
    try:
        async with unit_of_work(resources) as uow:
            # Again under the board's lock: the role, the trash and the quota may have changed
            # while the bytes moved, and the lock makes the quota exact.
            await writable_task(uow, principal, task_id)
            check_quota(
                await stored_on_board(uow, board_id),
                stored.size,
                settings.board_storage_quota_bytes,
            )
            row = Attachment(
                id=attachment_id,
                board_id=board_id,
                task_id=task_id,
                storage_key=key,
                filename=name,
                content_type=stored.content_type_sniffed,
                size=stored.size,
                sha256=stored.sha256,
                uploaded_by=principal.user_id,
                created_at=utcnow(),
            )
            uow.session.add(row)
            await uow.session.flush()
            result = read(row)
            await events.append(
                uow,
                board_id=board_id,
                type="attachment.added",
                data=result.model_dump(mode="json"),
                actor_id=principal.user_id,
            )
    except BaseException:
        await storage.delete(key)
        raise
    return result


async def list_for_task(
    uow: UnitOfWork, principal: Principal, task_id: uuid.UUID, page: PageRequest
) -> tuple[list[AttachmentRead], str | None]:
    await board_of_task(uow, principal, task_id, "viewer")
    return await keyset_page(
        uow.session,
        select(Attachment).where(Attachment.task_id == task_id, Attachment.deleted_at.is_(None)),
        keys=[Attachment.created_at, Attachment.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: read(row[0]),
    )


async def covers(uow: UnitOfWork, board_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """Each task's cover: its newest attachment with a thumbnail (an image), by task."""
    rows = await uow.session.execute(
        select(Attachment.task_id, Attachment.id)
        .where(
            Attachment.board_id == board_id,
            Attachment.deleted_at.is_(None),
            Attachment.thumbnail_key.is_not(None),
        )
        .order_by(Attachment.task_id, Attachment.created_at.desc())
        .ext(distinct_on(Attachment.task_id))
    )
    return dict(rows.all())


async def _visible(
    uow: UnitOfWork, principal: Principal, attachment_id: uuid.UUID, minimum: Role
) -> Attachment:
    row = await uow.session.get(Attachment, attachment_id)
    if row is None or row.deleted_at is not None:
        raise AttachmentNotFound()
    await require_role(uow, row.board_id, principal, minimum, hidden=AttachmentNotFound)
    return row


async def get(uow: UnitOfWork, principal: Principal, attachment_id: uuid.UUID) -> AttachmentRead:
    return read(await _visible(uow, principal, attachment_id, "viewer"))


async def remove(uow: UnitOfWork, principal: Principal, attachment_id: uuid.UUID) -> None:
    """Hidden at once; the row and its bytes go after the trash's retention (the collector)."""
    row = await _visible(uow, principal, attachment_id, "member")
    if row.uploaded_by != principal.user_id:
        await require_role(uow, row.board_id, principal, "admin", hidden=AttachmentNotFound)
    row.deleted_at = utcnow()
    await uow.session.flush()
    await events.append(
        uow,
        board_id=row.board_id,
        type="attachment.removed",
        data=read(row).model_dump(mode="json"),
        actor_id=principal.user_id,
    )


@dataclass(frozen=True)
class Download:
    """How to answer a download: a short-lived URL of the store itself, or the bytes."""

    attachment: AttachmentRead
    filename: str
    content_type: str  # what the response says: never a type a browser would run
    inline: bool
    redirect: str | None = None
    stream: ReadStream | None = None


def served_type(sniffed: str) -> str:
    """Markup (HTML, SVG, XML) goes out as bytes to save, never as a document."""
    return "application/octet-stream" if is_markup(sniffed) else sniffed


async def download(
    uow: UnitOfWork,
    storage: Storage,
    principal: Principal,
    attachment_id: uuid.UUID,
    *,
    ttl: timedelta,
    thumbnail: bool = False,
) -> Download:
    row = await _visible(uow, principal, attachment_id, "viewer")
    key = row.thumbnail_key if thumbnail else row.storage_key
    if key is None:
        raise AttachmentNotFound("This attachment has no thumbnail")
    content_type = "image/webp" if thumbnail else served_type(row.content_type)
    inline = thumbnail or inline_safe(row.content_type)
    name = re.sub(r"\.[^.]*$", "", row.filename) + ".webp" if thumbnail else row.filename
    disposition: Disposition = "inline" if inline else "attachment"
    # Thumbnails always come through the api: they are small, and the page's
    # Content-Security-Policy lets images load from its own origin alone.
    url = (
        None
        if thumbnail
        else await storage.presigned_get(
            key, ttl=ttl, filename=name, disposition=disposition, content_type=content_type
        )
    )
    if url is not None:
        return Download(read(row), name, content_type, inline, redirect=url)
    return Download(read(row), name, content_type, inline, stream=await storage.open_read(key))
