#!/usr/bin/env python3
"""Hot-board fan-out, one code version against another, side by side in one run.

One system (embedded PostgreSQL and Redis, `taskboard api` and `relay`) and two `taskboard
realtime` processes: `before` runs the package of a baseline commit (extracted with `git
archive` into a temp dir and put first on its PYTHONPATH), `after` the package this
interpreter imports. Rounds alternate between them (before, after, then after, before, ...),
each the hot-board scenario of `bench_realtime.py` (N subscribers on one board, r writes/s),
so a shared machine's drift falls on both alike.

The figure compared is the realtime process's CPU time (from /proc) per frame delivered: on a
busy machine the latency percentiles say more about the neighbours than about the code.

    .venv/bin/python loadtests/bench_fanout.py --baseline 61e23fc --rounds 3
    .venv/bin/python loadtests/bench_fanout.py --baseline 61e23fc --profile /tmp/fanout-prof
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_realtime import fanout
from benchkit.host import machine_summary
from realtime.system import System, raise_fd_limit, system
from taskboard.embedded.processes import (
    ManagedProcess,
    free_port,
    http_ok,
    taskboard_command,
    wait_all_ready,
)

ROOT = Path(__file__).resolve().parent.parent


def extract(commit: str, into: Path) -> Path:
    """The `services/` tree of `commit`, as files under `into` (its package imports from there)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "services/taskboard"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "services"


def start_realtime(env: dict[str, str], services: Path) -> tuple[ManagedProcess, int]:
    port = free_port()
    path = os.pathsep.join([str(services), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = ManagedProcess(
        taskboard_command("realtime", "--port", str(port)),
        name="realtime-before",
        env={**env, "PYTHONPATH": path},
        ready=http_ok(f"http://127.0.0.1:{port}/readyz"),
        ready_timeout=90,
    )
    proc.start()
    return proc, port


def profiler(pid: int, seconds: float, out: Path) -> Callable[[], object]:
    """Starts py-spy on `pid` for `seconds` (raw collapsed stacks into `out`) when called."""

    def attach() -> object:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid", str(pid),
                "--duration", str(int(seconds)),
                "--rate", "250",
                "--nonblocking",
                "--format", "raw",
                "--output", str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    return attach


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit `before` runs")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20, help="writes/s on the hot board")
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of rounds")
    parser.add_argument("--generators", type=int, default=2)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument(
        "--profile", type=Path, help="instead of measuring: one py-spy'd round of each, here"
    )
    args = parser.parse_args()
    raise_fd_limit()
    print(f"machine: {machine_summary()}")
    print(f"command: {' '.join(sys.argv)}")
    results: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        services = extract(args.baseline, Path(tmp))
        with system(args.api_workers) as sys_:
            before, port = start_realtime(sys_.env, services)
            try:
                wait_all_ready([before])
                variants: dict[str, System] = {
                    "after": sys_,
                    "before": dataclasses.replace(
                        sys_, realtime_ws=f"ws://127.0.0.1:{port}/ws", realtime_pid=before.pid
                    ),
                }
                if args.profile:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    plan = ["before", "after"]
                else:
                    plan = [
                        name
                        for i in range(args.rounds)
                        for name in (("before", "after") if i % 2 == 0 else ("after", "before"))
                    ]
                for name in plan:
                    target = variants[name]
                    hook = None
                    if args.profile:
                        out = args.profile / f"{name}.txt"
                        hook = profiler(target.realtime_pid, args.duration, out)
                    result = asyncio.run(
                        fanout(
                            target,
                            subscribers=args.subscribers,
                            boards=1,
                            rate=args.rate,
                            duration=args.duration,
                            label=name,
                            generators=args.generators,
                            on_load=hook,
                        )
                    )
                    results[name].append(result)
                    print(json.dumps(result), flush=True)
            finally:
                before.stop(timeout=30)
    if args.profile:
        print(f"profiles: {args.profile}/before.txt, {args.profile}/after.txt")
        return
    print(f"\nhot board, {args.subscribers} subscribers at {args.rate:g} writes/s:")
    print("| variant | realtime CPU µs/frame (each round) | median | p50 ms | p99 ms |")
    print("| --- | --- | ---: | --- | --- |")
    medians = {}
    for name in ("before", "after"):
        rounds = results[name]
        per_frame = [float(r["realtime_cpu_us_per_frame"] or 0) for r in rounds]
        medians[name] = statistics.median(per_frame)
        print(
            f"| {name} | {', '.join(f'{v:.1f}' for v in per_frame)} | {medians[name]:.1f} | "
            f"{', '.join(str(r['p50_ms']) for r in rounds)} | "
            f"{', '.join(str(r['p99_ms']) for r in rounds)} |"
        )
    lost = [
        (name, r["frames_expected"], r["frames_received"])
        for name, rounds in results.items()
        for r in rounds
        if r["frames_received"] != r["frames_expected"]
    ]
    print(f"after / before CPU per frame: {medians['after'] / medians['before']:.2f}")
    print("every expected frame arrived" if not lost else f"frames missing: {lost}")


if __name__ == "__main__":
    main()
