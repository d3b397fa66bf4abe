"""File storage: a local directory or an S3-compatible bucket, through obstore.

    storage = open_storage(settings)            # from TASKBOARD_STORAGE_URL
    stored = await storage.put_stream(key, request.stream(), max_bytes=cap)
    reader = await storage.open_read(key)       # reader.size, then `async for chunk in reader`
    url = await storage.presigned_get(key, ttl=..., filename=name)   # None for local files

See docs/architecture.md (Storage) for the guarantees.
"""

from taskboard.storage.backend import (
    ObjectInfo,
    PresignedRequest,
    ReadStream,
    Storage,
    Stored,
    check_key,
    open_storage,
)
from taskboard.storage.disposition import Disposition, content_disposition, safe_filename
from taskboard.storage.errors import (
    InvalidKey,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
    StorageNotConfigured,
)
from taskboard.storage.sniff import SNIFF_BYTES, inline_safe, is_markup, sniff

__all__ = [
    "SNIFF_BYTES",
    "Disposition",
    "InvalidKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectTooLarge",
    "PresignedRequest",
    "ReadStream",
    "Storage",
    "StorageError",
    "StorageNotConfigured",
    "Stored",
    "check_key",
    "content_disposition",
    "inline_safe",
    "is_markup",
    "open_storage",
    "safe_filename",
    "sniff",
]
