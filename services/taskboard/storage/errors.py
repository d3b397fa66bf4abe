"""What the storage layer raises. Only ObjectTooLarge is a problem a client caused (413); the
others are the store failing or a caller's mistake, and answer 500 if they reach the api."""

from __future__ import annotations

from taskboard.core.errors import TaskboardError


class StorageError(Exception):
    """The store failed (unreachable, refused, misconfigured). The message names the key and
    the operation, never a credential."""


class ObjectNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no object {key!r} in storage")
        self.key = key


class StorageNotConfigured(StorageError):
    def __init__(self) -> None:
        super().__init__("file storage is not configured: set TASKBOARD_STORAGE_URL")


class InvalidKey(ValueError):
    """A key outside the grammar keys must follow (see storage.keys)."""


class ObjectTooLarge(TaskboardError):
    """The stream passed its cap; nothing was kept."""

    status = 413
    type = "payload-too-large"
    title = "Request body too large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The file must be at most {max_bytes} bytes", extra={"max_bytes": max_bytes}
        )
        self.max_bytes = max_bytes
