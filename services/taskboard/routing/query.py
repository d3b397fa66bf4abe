"""Query-string rules shared by list endpoints: page sizes, cursors, timestamps, text. Each
rule is also in the parameter's schema, so the document says what the code accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from taskboard.core.config import PAGE_SIZE_CEILING, Settings
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.paging import PageRequest
from taskboard.core.schemas import NO_NUL_PATTERN, YEAR_PATTERN
from taskboard.routing.deps import SettingsDep

# What encode_cursor writes: unpadded URL-safe base64.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"

Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page (opaque; only cursors we issued)",
    ),
]
Limit = Annotated[
    int | None,
    Query(
        ge=1,
        le=PAGE_SIZE_CEILING,
        description="Page size (default TASKBOARD_PAGE_SIZE_DEFAULT; an operator may cap it "
        "below the documented maximum with TASKBOARD_PAGE_SIZE_MAX)",
    ),
]
TimestampQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        json_schema_extra={"format": "date-time", "pattern": YEAR_PATTERN},
    ),
]
TextQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=200, json_schema_extra={"pattern": NO_NUL_PATTERN}),
]

_AWARE = TypeAdapter(AwareDatetime)


def page_size(settings: Settings, requested: int | None) -> int:
    if requested is None:
        return settings.page_size_default
    if requested > settings.page_size_max:
        raise ValidationFailed(
            fields=[FieldProblem("limit", "max", f"must be at most {settings.page_size_max}")]
        )
    return requested


def timestamp_param(name: str, value: str | None) -> datetime | None:
    """RFC 3339, read as request bodies read their timestamps (pydantic), within 1970-9998."""
    if value is None:
        return None
    try:
        parsed = _AWARE.validate_python(value)
    except ValidationError:
        parsed = None
    if parsed is None or not 1970 <= parsed.year <= 9998:
        raise ValidationFailed(
            fields=[FieldProblem(name, "datetime", "must be an ISO 8601 time with a UTC offset")]
        )
    return parsed


def text_param(name: str, value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValidationFailed(fields=[FieldProblem(name, "no_nul", "must not contain NUL")])
    return value


async def page_request(
    settings: SettingsDep, cursor: Cursor = None, limit: Limit = None
) -> PageRequest:
    """`?cursor=&limit=` of every paged list (limit: TASKBOARD_PAGE_SIZE_DEFAULT/_MAX)."""
    return PageRequest(cursor, page_size(settings, limit))


Paging = Annotated[PageRequest, Depends(page_request)]
