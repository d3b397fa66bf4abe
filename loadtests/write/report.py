"""What the write benchmark reports: each phase's figures, the targets (PASS/MISS) and the
JSON report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchkit.stats import percentile

# Issue 14's targets: HTTP creates against the raw transaction, measured side by side.
TARGET_SEQ_RATIO = 0.25
TARGET_CONC_RATIO = 0.45
TARGET_SNAPSHOT_P95_MS = 150.0


@dataclass
class Result:
    name: str
    ops: int
    seconds: float
    latencies_ms: list[float]
    cpu: dict[str, float] = field(default_factory=dict)  # component -> CPU seconds
    busy: float = 0.0  # machine-wide CPU utilisation over the phase, 0..1 per core summed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def foreign_cores(self) -> float:
        """CPU the machine spent on processes that are not part of this benchmark."""
        if not self.seconds:
            return 0.0
        return max(0.0, self.busy - sum(self.cpu.values()) / self.seconds)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def p(self, pct: float) -> float:
        return percentile(self.latencies_ms, pct)

    def line(self) -> str:
        return (
            f"{self.name:<40} n={self.ops:<6} {self.rate:9.1f}/s   p50 {self.p(50):7.2f} ms"
            f"   p95 {self.p(95):7.2f} ms   p99 {self.p(99):7.2f} ms"
        )

    def cpu_line(self) -> str:
        per_op = "  ".join(
            f"{name} {secs / self.ops * 1000:6.2f}" for name, secs in self.cpu.items() if secs
        )
        opened = self.extra.get("pg_connections_opened")
        conns = f", {opened} PG connections opened" if opened is not None else ""
        probe = self.extra.get("cpu_probe_ms")
        return (
            f"{'':<40} CPU ms/op: {per_op}   (machine busy {self.busy:.2f} cores, "
            f"other processes {self.foreign_cores:.2f}{conns}"
            + (f", probe {probe:.1f} ms)" if probe is not None else ")")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ops": self.ops,
            "seconds": round(self.seconds, 3),
            "rate_per_s": round(self.rate, 1),
            "p50_ms": round(self.p(50), 2),
            "p95_ms": round(self.p(95), 2),
            "p99_ms": round(self.p(99), 2),
            "cpu_ms_per_op": {k: round(v / self.ops * 1000, 3) for k, v in self.cpu.items()},
            "machine_busy_cores": round(self.busy, 2),
            "other_processes_cores": round(self.foreign_cores, 2),
            **self.extra,
        }


def verdicts(results: dict[str, Result]) -> dict[str, tuple[float, float, bool]]:
    """Per target: the measured value, the target and whether it is met."""
    seq_ratio = results["http_seq"].rate / results["raw_seq"].rate
    conc_ratio = results["http_conc"].rate / results["raw_conc"].rate
    miss_p95, hit_p95 = results["snapshot_miss"].p(95), results["snapshot_hit"].p(95)
    return {
        "sequential_ratio": (seq_ratio, TARGET_SEQ_RATIO, seq_ratio >= TARGET_SEQ_RATIO),
        "concurrent_ratio": (conc_ratio, TARGET_CONC_RATIO, conc_ratio >= TARGET_CONC_RATIO),
        "snapshot_miss_p95_ms": (
            miss_p95,
            TARGET_SNAPSHOT_P95_MS,
            miss_p95 <= TARGET_SNAPSHOT_P95_MS,
        ),
        "snapshot_hit_p95_ms": (hit_p95, TARGET_SNAPSHOT_P95_MS, hit_p95 <= TARGET_SNAPSHOT_P95_MS),
    }


def print_targets(checked: dict[str, tuple[float, float, bool]], statements: list[str]) -> None:
    """The targets block and the SQL statements one HTTP create runs."""

    def verdict(key: str) -> str:
        return "PASS" if checked[key][2] else "MISS"

    print("\ntargets")
    print(
        f"  sequential HTTP / raw = {checked['sequential_ratio'][0]:.3f}   "
        f"target >= {TARGET_SEQ_RATIO}   {verdict('sequential_ratio')}"
    )
    print(
        f"  concurrent HTTP / raw = {checked['concurrent_ratio'][0]:.3f}   "
        f"target >= {TARGET_CONC_RATIO}   {verdict('concurrent_ratio')}"
    )
    for key, label in (("snapshot_miss_p95_ms", "first GET after a write"),
                       ("snapshot_hit_p95_ms", "cached seq")):  # fmt: skip
        print(
            f"  snapshot p95 ({label}) = {checked[key][0]:.1f} ms   "
            f"target <= {TARGET_SNAPSHOT_P95_MS:.0f} ms   {verdict(key)}"
        )
    print(f"\nSQL statements one HTTP create runs ({len(statements)}):")
    for sql in statements:
        print(f"  {sql[:110]}")


def report(pg_version: str, results: dict[str, Result], statements: list[str]) -> dict[str, Any]:
    """Print the targets and the SQL of one create; return the figures for --json."""
    checked = verdicts(results)
    print_targets(checked, statements)
    return {
        "postgres": pg_version,
        "results": {k: v.as_dict() for k, v in results.items()},
        "targets": {
            k: {"value": round(v, 3), "target": t, "pass": ok} for k, (v, t, ok) in checked.items()
        },
        "create_statements": statements,
    }
