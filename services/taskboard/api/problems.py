"""Every 4xx/5xx leaves as RFC 9457 application/problem+json; a 500 shows a trace id, never a
stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from taskboard.core.errors import TaskboardError
from taskboard.core.telemetry import current_trace_id
from taskboard.idempotency.deps import REPLAY_HEADER, IdempotentReplay

log = logging.getLogger("taskboard.api")
MEDIA_TYPE = "application/problem+json"

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem(
    request: Request,
    *,
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{type_}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    trace_id = current_trace_id()
    if trace_id:
        body["trace_id"] = trace_id
    response = JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)
    cookie = request.app.state.resources.settings.access_cookie_name
    if status == 401 and cookie in request.cookies:
        response.delete_cookie(cookie, path="/")
    return response


async def _taskboard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaskboardError)
    if isinstance(exc, IdempotentReplay):
        return Response(
            exc.body,
            status_code=exc.status_code,
            media_type="application/json",
            headers={REPLAY_HEADER: "true"},
        )
    return problem(
        request,
        status=exc.status,
        type_=exc.type,
        title=exc.title,
        detail=exc.detail,
        errors=[{"field": f.field, "rule": f.rule, "message": f.message} for f in exc.fields],
        extra=exc.extra,
        headers=exc.headers,
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_name(tuple(err.get("loc", ()))),
            "rule": str(err.get("type", "invalid")),
            "message": str(err.get("msg", "is invalid")).removeprefix("Value error, "),
        }
        for err in exc.errors()
    ]
    names = ", ".join(sorted({e["field"] for e in errors}))
    return problem(
        request,
        status=422,
        type_="validation-error",
        title="Validation failed",
        detail=f"Invalid fields: {names}" if names else "Invalid request",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    type_, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(
        request,
        status=exc.status_code,
        type_=type_,
        title=title,
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    """Services check what they can; a reference to a user that is gone can only be the
    caller's own (a validly signed token whose account was deleted): that is a 401."""
    assert isinstance(exc, IntegrityError)
    message = str(exc.orig)
    if "violates foreign key constraint" in message and '_users"' in message:
        return problem(
            request,
            status=401,
            type_="invalid-token",
            title="Access token is invalid or expired",
            detail="The account this token was issued to no longer exists",
        )
    return await _unhandled(request, exc)


async def _unhandled(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"path": request.url.path, "method": request.method, "trace_id": current_trace_id()},
    )
    return problem(
        request,
        status=500,
        type_="internal-error",
        title="Internal server error",
        detail="Something went wrong on our side; quote the trace_id when reporting it",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(TaskboardError, _taskboard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unhandled)
