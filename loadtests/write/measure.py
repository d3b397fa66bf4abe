"""A timed phase: the CPU each component spent (this load generator, the API, PostgreSQL,
Redis, from /proc), how busy the machine was, the PostgreSQL connections opened, and, with
--profile, py-spy stacks of the API workers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from benchkit.host import cpu_probe_ms, machine_busy, proc_table
from benchkit.pyspy import record, summarize
from write.pglog import connections_since
from write.report import Result


class CpuMeter:
    """CPU seconds per component (this load generator, the API, PostgreSQL, Redis)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots

    def sample(self) -> dict[str, dict[int, float]]:
        """Per component, pid -> CPU seconds. Server processes count their reaped children
        too, so a PostgreSQL backend or pool connection that ends mid-phase is not lost."""
        table = proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        out: dict[str, dict[int, float]] = {}
        for name, root in self.roots.items():
            pids, stack = {}, [root]
            while stack:
                pid = stack.pop()
                if pid not in table:
                    continue
                _, own, reaped = table[pid]
                if name == "loadgen":  # its children are the servers (and py-spy)
                    pids[pid] = own
                else:
                    pids[pid] = own + reaped
                    stack.extend(children.get(pid, []))
            out[name] = pids
        return out

    @contextlib.contextmanager
    def measure(self, result_cpu: dict[str, float], busy: list[float]) -> Iterator[None]:
        before, (b0, t0) = self.sample(), machine_busy()
        yield
        after, (b1, t1) = self.sample(), machine_busy()
        for name in self.roots:
            # Totals, not per pid: a process that ended mid-phase moved into its parent's
            # reaped-children time, and its share from before the phase is subtracted here.
            result_cpu[name] = max(0.0, sum(after[name].values()) - sum(before[name].values()))
        ncpu = os.cpu_count() or 1
        busy.append((b1 - b0) / (t1 - t0) * ncpu if t1 > t0 else 0.0)


@contextlib.contextmanager
def profiled(pids: list[int], out_dir: Path | None, label: str) -> Iterator[None]:
    """py-spy on each API worker for the duration of the block (when --profile is given); the
    split of its samples by layer is printed after the block."""
    if out_dir is None:
        yield
        return
    with record(pids, out_dir, label) as paths:
        yield
    if paths:
        print("\n".join(f"{'':<40} {line}" for line in summarize(paths).lines(top=8)))


class Phases:
    """Runs the timed phases, each measured the same way, and prints each one's figures."""

    def __init__(
        self, meter: CpuMeter, workers: list[int], profile_dir: Path | None, pg_log: Path
    ) -> None:
        self.meter = meter
        self.workers = workers
        self.profile_dir = profile_dir
        self.pg_log = pg_log

    @contextlib.contextmanager
    def measured(
        self, result: Result, profile_label: str | None, *, count_connections: bool = True
    ) -> Iterator[None]:
        """Fill in `result`'s CPU, machine load and CPU probe over the block (and the
        PostgreSQL connections opened); py-spy the workers when given a label and --profile."""
        busy: list[float] = []
        label = profile_label if profile_label else ""
        result.extra["cpu_probe_ms"] = round(cpu_probe_ms(), 2)
        log_start = self.pg_log.stat().st_size
        with (
            profiled(self.workers, self.profile_dir if profile_label else None, label),
            self.meter.measure(result.cpu, busy),
        ):
            yield
        result.busy = busy[0]
        if count_connections:
            result.extra["pg_connections_opened"] = connections_since(self.pg_log, log_start)

    async def run(
        self,
        name: str,
        run: Callable[[], Awaitable[tuple[float, list[float]]]],
        ops: int,
        profile_label: str | None = None,
    ) -> Result:
        """Time `run` (it returns its wall time and latencies) as the phase `name`."""
        result = Result(name, ops, 0.0, [])
        with self.measured(result, profile_label):
            result.seconds, result.latencies_ms = await run()
        print(result.line())
        print(result.cpu_line(), flush=True)
        return result
