"""The load shapes as plain functions of the run time (shapes.py drives Locust with them)."""

from __future__ import annotations


def step_users(elapsed: float, per_step: int, step_seconds: float, steps: int) -> int | None:
    """Users wanted `elapsed` seconds in: `per_step` more at each step; None once the last step
    has run its time (the run ends)."""
    if elapsed >= steps * step_seconds:
        return None
    return per_step * (int(elapsed // step_seconds) + 1)


def storms_due(elapsed: float, first_at: float, every: float, count: int) -> int:
    """How many storms should have started `elapsed` seconds in."""
    if elapsed < first_at:
        return 0
    return min(count, int((elapsed - first_at) // every) + 1)


def storm_end(first_at: float, every: float, count: int) -> float:
    """The run ends one interval after the last storm, which leaves time to see the resumed
    sockets settle."""
    return first_at + every * count
