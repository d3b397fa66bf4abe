"""ETag / If-Match carrying a row's integer version."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from taskboard.core.errors import FieldProblem, ValidationFailed


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(if_match: Annotated[str | None, Header()] = None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise ValidationFailed(
            fields=[FieldProblem("If-Match", "format", 'must be the task\'s version, e.g. "3"')]
        )
    return int(value)


IfMatch = Annotated[int | None, Depends(parse_if_match)]
