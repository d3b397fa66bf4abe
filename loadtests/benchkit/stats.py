"""The one percentile every benchmark reports."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], pct: float) -> float:
    """The `pct`-th percentile (0..100) by linear interpolation between the closest ranks:
    numpy's default, `statistics.quantiles(method="inclusive")`, Hyndman & Fan type 7.

    Chosen over nearest-rank because it uses both neighbouring samples: with the few dozen
    samples of a snapshot phase, p95 does not jump a whole sample gap when one more sample
    arrives, and p50 of an even count is the usual median. NaN for no values.
    """
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
