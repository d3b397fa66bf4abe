"""ETag / If-Match carrying a row's integer version."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from taskboard.core.errors import FieldProblem, ValidationFailed


def etag(version: int) -> str:
    return f'"{version}"'


_ASCII_DIGITS = frozenset("0123456789")


def parse_if_match(if_match: Annotated[str | None, Header()] = None) -> int | None:
    """The version the client last saw; None for no header or `*` (RFC 9110: any current
    version will do)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    # str.isdigit() also accepts "²" and other digits int() refuses: ASCII only.
    if not value or not set(value) <= _ASCII_DIGITS or len(value) > 9:
        raise ValidationFailed(
            fields=[FieldProblem("If-Match", "format", 'must be the task\'s version, e.g. "3"')]
        )
    return int(value)


IfMatch = Annotated[int | None, Depends(parse_if_match)]
