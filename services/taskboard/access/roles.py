"""The board role ladder: each role can do everything the ones below it can."""

from __future__ import annotations

from typing import Literal

Role = Literal["viewer", "member", "admin", "owner"]
RANK: dict[str, int] = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


def at_least(role: str, minimum: Role) -> bool:
    return RANK[role] >= RANK[minimum]
