"""Retiring an operation within v1 (docs/api.md, "Versioning and deprecation"): the document
marks it `deprecated`, and every answer carries `Deprecation` (RFC 9745: since when) and
`Sunset` (RFC 8594: the date after which it may be gone), so clients and gateways can warn
long before anything breaks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Response

# Removal is announced at least this long ahead: six months (docs/api.md).
MINIMUM_NOTICE_DAYS = 180


def deprecation(*, since: date, sunset: date) -> dict[str, Any]:
    """Keyword arguments for a route decorator: `@router.get(path, **deprecation(...))`."""
    if (sunset - since).days < MINIMUM_NOTICE_DAYS:
        raise ValueError(f"a sunset must be at least {MINIMUM_NOTICE_DAYS} days after deprecation")
    since_at = datetime(since.year, since.month, since.day, tzinfo=UTC)
    sunset_at = datetime(sunset.year, sunset.month, sunset.day, tzinfo=UTC)
    headers = {
        "Deprecation": f"@{int(since_at.timestamp())}",
        "Sunset": format_datetime(sunset_at, usegmt=True),
    }

    async def announce(response: Response) -> None:
        response.headers.update(headers)

    announce.__dict__["taskboard_deprecation"] = headers
    return {"deprecated": True, "dependencies": [Depends(announce)]}
