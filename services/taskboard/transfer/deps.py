"""Request parts the transfer routes read themselves: the import's Idempotency-Key (its own,
answered from the job's current state rather than a stored response) and the file store,
when one is configured."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.idempotency.deps import _KEY, HEADER, KEY_PATTERN
from taskboard.routing.contract import documents_header
from taskboard.storage import Storage


@documents_header(
    HEADER,
    pattern=KEY_PATTERN,
    description="Retrying with the same key (and the same body) answers the same import job, "
    "as it now stands, instead of starting another; the same key with another body is a 422. "
    "Without a key, the same body from the same user within TASKBOARD_IMPORT_DEDUP_SECONDS "
    "is the same job too.",
)
async def import_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is not None and _KEY.match(key) is None:
        raise ValidationFailed(
            fields=[FieldProblem(HEADER, "format", "must be 1 to 255 visible ASCII characters")]
        )
    return key


async def optional_storage(request: Request) -> Storage | None:
    storage: Storage | None = getattr(request.app.state, "storage", None)
    return storage


ImportKey = Annotated[str | None, Depends(import_key)]
MaybeStorage = Annotated[Storage | None, Depends(optional_storage)]
