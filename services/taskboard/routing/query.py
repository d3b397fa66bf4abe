"""Query-string rules shared by list endpoints: page sizes, timestamps, text."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from taskboard.core.config import Settings
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.paging import PageRequest
from taskboard.routing.deps import SettingsDep


def page_size(settings: Settings, requested: int | None) -> int:
    if requested is None:
        return settings.page_size_default
    if requested > settings.page_size_max:
        raise ValidationFailed(
            fields=[FieldProblem("limit", "max", f"must be at most {settings.page_size_max}")]
        )
    return requested


def timestamp_param(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or not 1970 <= parsed.year <= 9998:
        raise ValidationFailed(
            fields=[FieldProblem(name, "datetime", "must be an ISO 8601 time with a UTC offset")]
        )
    return parsed


def text_param(name: str, value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValidationFailed(fields=[FieldProblem(name, "no_nul", "must not contain NUL")])
    return value


def page_request(
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> PageRequest:
    """`?cursor=&limit=` of every paged list (limit: TASKBOARD_PAGE_SIZE_DEFAULT/_MAX)."""
    return PageRequest(text_param("cursor", cursor), page_size(settings, limit))


Paging = Annotated[PageRequest, Depends(page_request)]
