"""taskboard_key_after (migration 0017): fractional_indexing's key after another, in SQL."""

from __future__ import annotations

import random

from fractional_indexing import BASE_62_DIGITS, generate_key_between
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

LARGEST = "z" * 27  # the largest integer part: the library needs midpoint() after it


def _python_key_after(key: str | None) -> str | None:
    """What the SQL function must answer: the library's key, or NULL where it raises or needs
    midpoint() (the caller then falls back to Python)."""
    if key is not None and key[:27] == LARGEST:
        return None
    try:
        return str(generate_key_between(key, None))
    except Exception:
        return None


def _keys() -> list[str | None]:
    rng = random.Random(14)
    keys: list[str | None] = [None]
    key: str | None = None
    for _ in range(4000):  # a0 .. az, b00 .. b0z, b10, ...: every carry of the first keys
        key = generate_key_between(key, None)
        keys.append(key)
    heads = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for _ in range(4000):
        head = rng.choice(heads)
        n = ord(head) - ord("a") + 2 if head.islower() else ord("Z") - ord(head) + 2
        # Mostly high digits, so that carries (over one digit, several, all) are common.
        digits = "".join(rng.choice("xyzzzz" if rng.random() < 0.7 else BASE_62_DIGITS)
                         for _ in range(n - 1))  # fmt: skip
        fraction = "".join(rng.choice(BASE_62_DIGITS) for _ in range(rng.randrange(4)))
        if fraction.endswith("0"):
            fraction += "1"
        keys.append(head + digits + fraction)
    for head in heads:  # each head with its integer at the maximum: the head moves on
        n = ord(head) - ord("a") + 2 if head.islower() else ord("Z") - ord(head) + 2
        keys += [head + "z" * (n - 1), head + "z" * (n - 1) + "V", head + "0" * (n - 1) + "1"]
    keys += [
        "a9", "az", "aZ", "Zz", "Zzz", "Yzz", "A" + "z" * 26, "A" + "0" * 25 + "1", LARGEST,
        LARGEST + "V",
        # Not keys: the library raises, SQL answers NULL.
        "", "a", "a10", "A" + "0" * 26, "-", "a-", "1a", "b0-", "az0", "é0",
    ]  # fmt: skip
    return keys


async def test_key_after_is_the_librarys_key_after(engine: AsyncEngine) -> None:
    keys = _keys()
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT k, taskboard_key_after(k) FROM unnest(CAST(:keys AS text[])) k"),
            {"keys": keys},
        )
        got = {row[0]: row[1] for row in rows}
    assert len(keys) > 8000
    wrong = {k: (got[k], _python_key_after(k)) for k in keys if got[k] != _python_key_after(k)}
    assert wrong == {}
    # The carries the brief names, spelled out.
    assert [got[k] for k in ("a9", "az", "Zz", "b0z", None)] == ["aA", "b00", "a0", "b10", "a0"]
