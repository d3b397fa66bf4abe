"""Keyset pagination: opaque cursors that name the last row of a page, checked value by value
when they come back, and one way to cut a SELECT into pages by its sort keys."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.errors import FieldProblem, ValidationFailed

Kind = Literal["text", "time", "uuid"]
ItemT = TypeVar("ItemT")
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # the last instant a cursor may carry


@dataclass(frozen=True)
class PageRequest:
    """Which page a client asked for: after `cursor` (None: the first), `limit` items."""

    cursor: str | None
    limit: int


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _text(value: object) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 200:
        raise ValueError("bad text")
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
    return value


def _time(value: object) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError("naive time")
    moment = moment.astimezone(UTC)  # OverflowError at the calendar's edges
    if not 1970 <= moment.year <= LATEST.year:
        raise ValueError("time out of range")
    return moment


_PARSE: dict[Kind, Callable[[object], Any]] = {
    "text": _text,
    "time": _time,
    "uuid": lambda value: uuid.UUID(_text(value)),
}


def decode_cursor(cursor: str, kinds: Sequence[Kind]) -> list[Any]:
    """Cursors come back from clients: every value is checked before it reaches SQL."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("bad cursor")
        return [_PARSE[kind](value) for kind, value in zip(kinds, values, strict=True)]
    except (ValueError, TypeError, OverflowError):
        raise ValidationFailed(
            "Invalid cursor", fields=[FieldProblem("cursor", "format", "is not a cursor we issued")]
        ) from None


async def keyset_page(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    *,
    keys: Sequence[Any],
    kinds: Sequence[Kind],
    page: PageRequest,
    item: Callable[[Any], ItemT],
    descending: bool = False,
) -> tuple[list[ItemT], str | None]:
    """Rows of `stmt` after `cursor` in the order of `keys` (unique together), at most
    `limit`, each made an item by `item(row)`; and the cursor of the next page, if any."""
    cursor, limit = page.cursor, page.limit
    stmt = stmt.add_columns(*[key.label(f"_k{i}") for i, key in enumerate(keys)])
    if cursor:
        after = decode_cursor(cursor, kinds)
        stmt = stmt.where(
            tuple_(*keys) < tuple_(*after) if descending else tuple_(*keys) > tuple_(*after)
        )
    stmt = stmt.order_by(*[key.desc() if descending else key for key in keys]).limit(limit + 1)
    rows = (await session.execute(stmt)).all()
    items = [item(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]._mapping
        next_cursor = encode_cursor([last[f"_k{i}"] for i in range(len(keys))])
    return items, next_cursor
