"""The file store the api process opened (app.state.storage), for attachment routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from taskboard.attachments.errors import StorageUnavailable
from taskboard.storage import Storage


async def get_storage(request: Request) -> Storage:
    storage: Storage | None = getattr(request.app.state, "storage", None)
    if storage is None:
        raise StorageUnavailable("Set TASKBOARD_STORAGE_URL to store files")
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]
