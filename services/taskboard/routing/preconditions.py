"""ETag / If-Match carrying a row's integer version."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from taskboard.core.errors import FieldProblem, ValidationFailed


def etag(version: int) -> str:
    return f'"{version}"'


# `*` or an entity tag holding a version (the quotes and W/ are forgiven). [0-9], not \d:
# \d also matches "²" and other digits int() refuses.
IF_MATCH_PATTERN = r'^(\*|(W/)?"?[0-9]{1,9}"?)$'
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


async def parse_if_match(
    if_match: Annotated[
        str | None,
        Header(
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
            description="The ETag last read; the write is refused with 412 if the row changed",
        ),
    ] = None,
) -> int | None:
    """The version the client last saw; None for no header or `*` (RFC 9110: any current
    version will do)."""
    if if_match is None:
        return None
    value = if_match.strip()
    if _IF_MATCH.match(value) is None:
        raise ValidationFailed(
            fields=[FieldProblem("If-Match", "format", 'must be the task\'s version, e.g. "3"')]
        )
    if value == "*":
        return None
    return int(value.removeprefix("W/").strip('"'))


IfMatch = Annotated[int | None, Depends(parse_if_match)]
