"""Image thumbnails: made by the worker after `attachment.added` (never in the request),
stored beside the file as `<storage_key>.thumb.webp`, and recorded with `attachment.updated`.

`render` decodes untrusted bytes: only the four raster types browsers show inline, each only
as the format its content was sniffed as, only its first frame, and never an image whose
header claims more pixels than the setting allows (a decompression bomb is a few KiB of PNG
that would inflate to gigabytes)."""

from __future__ import annotations

import uuid
from io import BytesIO
from typing import IO, Final

from PIL import Image, ImageOps
from sqlalchemy import select

from taskboard.access.models import Board
from taskboard.attachments.models import Attachment
from taskboard.attachments.schemas import AttachmentRead
from taskboard.attachments.service import read
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.events import log as events
from taskboard.storage import Storage

# Sniffed types (storage.sniff) the worker decodes, and Pillow's names for them.
FORMATS: Final = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
SIZE: Final = (320, 320)  # fits within, keeping the aspect ratio
QUALITY: Final = 80
SUFFIX: Final = ".thumb.webp"


class Unrenderable(Exception):
    """The bytes are not an image this can decode (truncated, corrupt, another format)."""


class TooManyPixels(Unrenderable):
    """The header claims more pixels than allowed: refused before any decoding."""


class ThumbnailLost(Exception):
    """The thumbnail object vanished between its write and its record (the collector took it
    for an orphan meanwhile): write it again."""


def wanted(content_type: str) -> bool:
    return content_type in FORMATS


def key_for(storage_key: str) -> str:
    """Beside the file: within the key grammar (storage.check_key), found from the file's own
    key, and under the board's prefix like the file."""
    return storage_key + SUFFIX


def owner_key(key: str) -> str:
    """The file key a thumbnail key belongs to (the key itself when it is a file's)."""
    return key.removesuffix(SUFFIX)


def render(source: IO[bytes], content_type: str, *, max_pixels: int) -> bytes:
    """A WebP of the image's first frame, fitting within SIZE, turned upright as its EXIF
    orientation says. CPU work: call it off the event loop. Raises TooManyPixels, before
    decoding anything, when the header claims more than `max_pixels`; Unrenderable for
    anything else wrong with the bytes."""
    fmt = FORMATS.get(content_type)
    if fmt is None:
        raise Unrenderable(f"{content_type} is not a type thumbnails are made of")
    try:
        # Opening reads the header alone; nothing is decoded before the check.
        with Image.open(source, formats=[fmt]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixels(f"{width}x{height} pixels, over {max_pixels}")
            return _thumbnail(image)
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, past ours
        raise TooManyPixels(str(exc)) from exc
    except Exception as exc:  # hostile input: whatever a decoder raises means "unrenderable"
        raise Unrenderable(f"{type(exc).__name__}: {exc}") from exc


def _thumbnail(image: Image.Image) -> bytes:
    image.seek(0)  # an animation's first frame
    # JPEG decodes at a reduced scale when it can (no full-size bitmap in memory).
    image.draft("RGB", (SIZE[0] * 2, SIZE[1] * 2))
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if alpha else "RGB"
    # Before shrinking: a palette image would be resized by its nearest pixels.
    small = image if image.mode == mode else image.convert(mode)
    small.thumbnail(SIZE, Image.Resampling.LANCZOS)
    # Upright as the camera meant it (the EXIF orientation survives the shrinking).
    small = ImageOps.exif_transpose(small)
    out = BytesIO()
    small.save(out, "WEBP", quality=QUALITY, method=4)
    return out.getvalue()


async def to_make(resources: Resources, attachment_id: uuid.UUID) -> Attachment | None:
    """The attachment, if it still wants a thumbnail: live, an image, none made yet."""
    async with resources.sessionmaker() as session:
        row = await session.get(Attachment, attachment_id)
    if row is None or row.deleted_at is not None or row.thumbnail_key is not None:
        return None
    return row if wanted(row.content_type) else None


async def record(
    resources: Resources, storage: Storage, attachment_id: uuid.UUID, key: str
) -> AttachmentRead | None:
    """Point the attachment at its stored thumbnail and log `attachment.updated`, in one
    transaction under the board's lock like every writer. None when there is nothing to do:
    the attachment is gone, removed, or has its thumbnail already (a job run twice), so a
    thumbnail is recorded once and announced once.

    The object is looked at again once the attachment's row is locked: the collector holds
    that row (FOR SHARE) while it deletes an unreferenced thumbnail, so either it sees this
    record and keeps the object, or this sees its delete (ThumbnailLost) and records
    nothing."""
    async with resources.sessionmaker() as session:
        board_id = await session.scalar(
            select(Attachment.board_id).where(Attachment.id == attachment_id)
        )
    if board_id is None:
        return None
    async with unit_of_work(resources) as uow:
        # The board's lock first, as every writer takes it (access.repository.role_of); no
        # role check: the system's own write, about a file already on the board. Archived
        # boards get it too: it describes a file uploaded before the archiving.
        locked = await uow.session.scalar(
            select(Board.id).where(Board.id == board_id).with_for_update(key_share=True)
        )
        if locked is None:
            return None  # the board was deleted meanwhile
        row = await uow.session.scalar(
            select(Attachment).where(Attachment.id == attachment_id).with_for_update()
        )
        if row is None or row.deleted_at is not None or row.thumbnail_key is not None:
            return None
        if not await storage.exists(key):
            raise ThumbnailLost(key)
        row.thumbnail_key = key
        await uow.session.flush()
        result = read(row)
        await events.append(
            uow,
            board_id=row.board_id,
            type="attachment.updated",
            data=result.model_dump(mode="json"),
            actor_id=None,
        )
    return result
