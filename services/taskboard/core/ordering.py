"""Fractional-index keys: a move writes one row and never renumbers its neighbours."""

from __future__ import annotations

from fractional_indexing import generate_key_between


def key_between(before: str | None, after: str | None) -> str:
    """A key sorting strictly between `before` and `after` (None = the open end)."""
    return str(generate_key_between(before, after))
