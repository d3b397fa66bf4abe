"""Per-user and per-board quotas: how many of a thing one owner may hold, so that no single
user can fill the database or make a list no client can load (limits are settings)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.core.errors import Conflict


class QuotaExceeded(Conflict):
    type = "quota-exceeded"
    title = "Quota reached"


async def enforce(session: AsyncSession, count: Select[Any], *, limit: int, what: str) -> None:
    """Refuse one more `what` when `count` (a SELECT count(*)) is already at `limit`. Callers
    hold the lock that serializes these writes (the board row, the user row), so it is exact."""
    check(int((await session.execute(count)).scalar_one()), limit=limit, what=what)


def check(held: int, *, limit: int, what: str) -> None:
    """Refuse one more `what` when `held` already reaches `limit`."""
    if held >= limit:
        raise QuotaExceeded(
            f"At most {limit} {what}; delete some first",
            extra={"quota": what, "limit": limit},
        )
