"""Domain errors. The api layer renders them as RFC 9457 problem+json; nothing else catches them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    field: str
    rule: str
    message: str


class TaskboardError(Exception):
    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    # Most errors undo the transaction; a few (revoking a stolen token family) must keep it.
    commits: ClassVar[bool] = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        fields: list[FieldProblem] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.fields = fields or []
        self.extra = extra or {}
        self.headers = headers or {}


class Unauthorized(TaskboardError):
    status = 401
    type = "unauthorized"
    title = "Authentication required"


class Forbidden(TaskboardError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


class NotFound(TaskboardError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(TaskboardError):
    status = 409
    type = "conflict"
    title = "Conflict"


class PreconditionFailed(TaskboardError):
    status = 412
    type = "precondition-failed"
    title = "Precondition failed"


class ValidationFailed(TaskboardError):
    status = 422
    type = "validation-error"
    title = "Validation failed"


class TooManyRequests(TaskboardError):
    status = 429
    type = "rate-limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)
