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


def highest_rates(
    phases: Iterable[dict[str, float]], *, p50_ms: float, p99_ms: float, kept_up: float = 0.99
) -> tuple[float | None, float | None]:
    """Of fan-out phases (`write_rate_offered`, `write_rate_done`, `p50_ms`, `p99_ms`): the
    highest offered rate the system kept up with (done at least `kept_up` of offered), and the
    highest it kept up with inside both latency targets. None where no phase qualifies.

    The two differ by design: near the first, every process queues for the same cores and
    latency grows without bound as the rate approaches it; the second is the rate one can run
    at and still promise the targets.
    """
    kept = [p for p in phases if p["write_rate_done"] >= kept_up * p["write_rate_offered"]]
    within = [p for p in kept if p["p50_ms"] <= p50_ms and p["p99_ms"] <= p99_ms]
    return (
        max((p["write_rate_offered"] for p in kept), default=None),
        max((p["write_rate_offered"] for p in within), default=None),
    )
