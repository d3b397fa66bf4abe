"""The rule a column imposes on the tasks in it, in one place: its WIP limit."""

from __future__ import annotations

from taskboard.columns.errors import WipLimitExceeded


def check_wip(key: str, wip_limit: int | None, live: int, *, adding: int = 1) -> None:
    """Refuse to push a column holding `live` tasks past its limit. Callers count under the
    board lock, so the count is exact."""
    if wip_limit is not None and live + adding > wip_limit:
        raise WipLimitExceeded(
            f"Column {key!r} holds {live} of at most {wip_limit} tasks",
            extra={"column": key, "wip_limit": wip_limit, "count": live},
        )
