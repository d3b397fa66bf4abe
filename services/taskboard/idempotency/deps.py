"""Idempotency-Key for POST: the key, the request's hash and the response live in PostgreSQL in
the request's own transaction, so a retry either replays the first answer or (if the first
attempt rolled back) runs again; a concurrent duplicate waits on the key's row lock."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from taskboard.auth.deps import CurrentUser
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import Conflict, FieldProblem, TaskboardError, ValidationFailed
from taskboard.idempotency.models import IdempotencyRecord
from taskboard.routing.contract import AUTHENTICATED, documents_header
from taskboard.routing.deps import UoW
from taskboard.routing.raises import only_for

HEADER = "Idempotency-Key"
# Visible ASCII, no spaces: UUIDs, ULIDs and random tokens all fit.
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(KEY_PATTERN)
REPLAY_HEADER = "Idempotent-Replayed"
# A request header that is part of what the request asks: a retry carries the same one.
PRECONDITION = "If-Match"


class IdempotentReplay(TaskboardError):
    """Not an error: carries the stored response back out through the exception handlers."""

    status = 200

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__("replay")
        self.status_code = status_code
        self.body = body


@documents_header(
    HEADER,
    pattern=KEY_PATTERN,
    description="Retrying with the same key and request (body, and If-Match where one is "
    "sent) returns the first answer (marked `Idempotent-Replayed: true`) instead of doing it "
    "twice; the same key with another request is a 422. Keys are kept for "
    "TASKBOARD_IDEMPOTENCY_TTL_SECONDS (a day by default).",
)
@only_for("POST")
async def claim_key(request: Request, uow: UoW, principal: CurrentUser) -> None:
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return
    if _KEY.match(key) is None:
        raise ValidationFailed(
            fields=[FieldProblem(HEADER, "format", "must be 1 to 255 visible ASCII characters")]
        )
    # If-Match is in it (when sent): this runs before the route validates its own parameters,
    # so a malformed or other If-Match must not be answered with the first request's answer.
    precondition = request.headers.get(PRECONDITION)
    digest = hashlib.sha256(
        request.method.encode()
        + b" "
        + request.url.path.encode()
        + b"\n"
        + (b"" if precondition is None else f"{PRECONDITION}: {precondition}\n".encode())
        + await request.body()
    ).hexdigest()
    # A key is remembered for TASKBOARD_IDEMPOTENCY_TTL_SECONDS; after that it may be reused.
    ttl = request.app.state.resources.settings.idempotency_ttl_seconds
    await uow.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == principal.user_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < utcnow() - timedelta(seconds=ttl),
        )
    )
    inserted = await uow.session.execute(
        insert(IdempotencyRecord)
        .values(user_id=principal.user_id, key=key, request_hash=digest)
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    if inserted.first() is None:
        stored = (
            await uow.session.execute(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == principal.user_id, IdempotencyRecord.key == key
                )
            )
        ).scalar_one()
        if stored.request_hash != digest:
            raise ValidationFailed(
                "This Idempotency-Key was used with a different request",
                fields=[FieldProblem(HEADER, "reused", "was already used for another request")],
            )
        if stored.status_code is None or stored.response_body is None:
            raise Conflict("The first request with this Idempotency-Key did not complete")
        raise IdempotentReplay(stored.status_code, stored.response_body)
    request.state.idempotency = (uow, principal.user_id, key)


def authenticated_router(**kwargs: Any) -> APIRouter:
    """A router whose every route needs a caller and whose POSTs honour Idempotency-Key."""
    return APIRouter(
        route_class=IdempotentRoute,
        dependencies=[Depends(claim_key)],
        responses=AUTHENTICATED,
        **kwargs,
    )


async def _remember(request: Request, response: Response) -> None:
    claim: tuple[UnitOfWork, Any, str] | None = getattr(request.state, "idempotency", None)
    if claim is None or response.status_code >= 400:
        return
    uow, user_id, key = claim
    await uow.session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
        .values(status_code=response.status_code, response_body=bytes(response.body).decode())
    )


class IdempotentRoute(APIRoute):
    """Stores the serialized response before the unit of work commits (FastAPI exits
    function-scoped dependencies after the handler returns its Response)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def remembering(request: Request) -> Response:
            response = await handler(request)
            await _remember(request, response)
            return response

        return remembering
