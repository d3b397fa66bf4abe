#!/usr/bin/env python3
"""Realtime benchmark: create->deliver latency, frame throughput and memory per connection.

Brings the system up itself (embedded PostgreSQL and Redis, `taskboard api`, `taskboard
realtime`, `taskboard relay` as real processes), then runs, in one load-generator process:

  spread  N subscribers over B boards, writes at R/s spread across the boards
  hot     N subscribers on one board, writes at r/s (N*r frames/s)
  idle    M idle authenticated connections to one realtime process: RSS per connection

Latency is measured from just before the HTTP create request starts to the event frame's
arrival at each subscriber (same clock, same process).

    .venv/bin/python loadtests/bench_realtime.py            # the full run
    .venv/bin/python loadtests/bench_realtime.py --quick    # a smoke-sized run
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from benchkit import http1
from benchkit.host import cpu_probe_ms, machine_summary, process_cpu_seconds, rss_kib
from benchkit.stats import highest_rates, percentile
from realtime.subscribers import subscriber_process
from realtime.system import System, raise_fd_limit, system

API = "/api/v1"
# Enough for the highest rate measured here at a few ms per create (Little's law), few
# enough that a create never waits on the client for a connection it could have had.
WRITER_CONNECTIONS = 32
WARMUP_SECONDS = 3.0


# ---------------------------------------------------------------- load


@dataclass
class Probe:
    http: list[float] = field(default_factory=list)  # the create request itself
    last_write_done: float = 0.0
    write_errors: int = 0


async def writer(
    url: str,
    token: str,
    boards: list[str],
    rate: float,
    duration: float,
    probe: Probe,
    *,
    prefix: str = "w",
) -> int:
    """Creates at `rate`/s over a fixed set of keep-alive connections (benchkit.http1: a tenth
    of httpx's CPU per request, and no pool to search as the backlog grows). Each create's
    clock starts when it is due, so time spent waiting for a free connection counts."""
    sent = 0
    inflight: set[asyncio.Task[None]] = set()
    pool = http1.Pool(url, WRITER_CONNECTIONS, {"Authorization": f"Bearer {token}"})

    async def one(i: int) -> None:
        started = time.perf_counter()
        title = f"{prefix}{i}@{time.time():.6f}"
        response = await pool.post(
            f"{API}/boards/{boards[i % len(boards)]}/tasks", json_body={"title": title}
        )
        probe.last_write_done = time.perf_counter()
        probe.http.append(probe.last_write_done - started)
        if response.status != 201:
            probe.write_errors += 1

    async with pool:
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < duration:
            due = int(elapsed * rate) + 1
            while sent < due:
                task = asyncio.create_task(one(sent))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*inflight)
    return sent


async def setup_accounts(http: httpx.AsyncClient, boards: int) -> tuple[str, list[str]]:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    await http.post(
        f"{API}/auth/register",
        json={"email": email, "password": "password123", "display_name": "Bench"},
    )
    login = await http.post(f"{API}/auth/login", json={"email": email, "password": "password123"})
    token = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    board_ids = []
    for i in range(boards):
        created = await http.post(f"{API}/boards", json={"name": f"b{i}"}, headers=headers)
        board_ids.append(created.json()["id"])
    return token, board_ids


def ms(values: list[float], pct: float) -> float:
    """The `pct`-th percentile of `values` (seconds), in milliseconds."""
    return round(percentile(values, pct) * 1000, 2)


async def fanout(
    sys_: System,
    *,
    subscribers: int,
    boards: int,
    rate: float,
    duration: float,
    label: str,
    generators: int,
    on_load: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """`on_load` is called when the subscribers are ready, just before the writes start (a
    profiler attaches there, so it samples fan-out and not a thousand subscriptions)."""
    ctx = multiprocessing.get_context("spawn")
    async with httpx.AsyncClient(
        base_url=sys_.api, timeout=60, limits=httpx.Limits(max_connections=64)
    ) as http:
        token, board_ids = await setup_accounts(http, boards)
        stop, results = ctx.Event(), ctx.Queue()
        assignments = [board_ids[i % boards] for i in range(subscribers)]
        procs, readies, counters = [], [], []
        for g in range(generators):
            ready, frames = ctx.Event(), ctx.Value("q", 0, lock=False)
            share = assignments[g::generators]
            proc = ctx.Process(
                target=subscriber_process,
                args=(sys_.realtime_ws, token, share, ready, stop, frames, results),
            )
            proc.start()
            procs.append(proc)
            readies.append(ready)
            counters.append(frames)
        while not all(r.is_set() for r in readies):
            if not all(proc.is_alive() for proc in procs):
                raise RuntimeError("a load-generator process failed before its sockets were ready")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        if on_load is not None:
            on_load()
        # Unmeasured writes first (titles the subscribers do not count): each api process opens
        # its pool's connections and prepares the create on each as the load asks for them, a
        # few tens of ms a connection, which a cold start would otherwise put in the tail.
        await writer(sys_.api, token, board_ids, rate, WARMUP_SECONDS, Probe(), prefix="x")
        await asyncio.sleep(0.5)
        host_before = cpu_probe_ms()
        # The writer's own full collections (tens of ms over this process's objects) would
        # hold back the writes due meanwhile, and show up as latency: as the subscribers do.
        gc.collect()
        gc.freeze()
        probe = Probe()
        cpu0, t0 = process_cpu_seconds(sys_.realtime_pid), time.perf_counter()
        gen0 = sum(process_cpu_seconds(proc.pid) for proc in procs if proc.pid)
        sent = await writer(sys_.api, token, board_ids, rate, duration, probe)
        expected = sent * subscribers // boards
        # Until every frame arrived, or none for 15 s: on a loaded machine the generators can
        # trail the writes by longer than that and still be receiving.
        deadline, seen = time.perf_counter() + 15, -1
        while (got := sum(c.value for c in counters)) < expected and time.perf_counter() < deadline:
            if got != seen:
                seen, deadline = got, time.perf_counter() + 15
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - t0
        host_after = cpu_probe_ms()
        received = sum(c.value for c in counters)
        rt_cpu_seconds = process_cpu_seconds(sys_.realtime_pid) - cpu0
        gen_cpu_seconds = sum(process_cpu_seconds(proc.pid) for proc in procs if proc.pid) - gen0
        rt_cpu = rt_cpu_seconds / elapsed
        stop.set()
        latencies: list[float] = []
        after_commit: list[float] = []
        for _ in procs:
            got_latencies, got_after = await asyncio.to_thread(results.get, True, 60)
            latencies += got_latencies
            after_commit += got_after
        for proc in procs:
            proc.join(timeout=30)
    return {
        "scenario": label,
        "generators": generators,
        "writes": sent,
        "write_rate_offered": round(sent / duration, 1),
        "write_rate_done": round(sent / (probe.last_write_done - t0), 1),
        "http_p50_ms": ms(probe.http, 50),
        "http_p99_ms": ms(probe.http, 99),
        "after_commit_p50_ms": ms(after_commit, 50),
        "after_commit_p99_ms": ms(after_commit, 99),
        "write_errors": probe.write_errors,
        "frames_expected": expected,
        "frames_received": received,
        "frames_per_s": round(received / elapsed),
        "p50_ms": ms(latencies, 50),
        "p95_ms": ms(latencies, 95),
        "p99_ms": ms(latencies, 99),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "realtime_cpu_cores": round(rt_cpu, 2),
        # What fan-out costs the pod, independent of how busy the machine is (latency is not):
        # the pod's own CPU time over the frames that arrived.
        "realtime_cpu_us_per_frame": (
            round(rt_cpu_seconds / received * 1e6, 1) if received else None
        ),
        # The subscriber processes' own CPU, on the same cores: what the measurement costs.
        "generator_cpu_us_per_frame": (
            round(gen_cpu_seconds / received * 1e6, 1) if received else None
        ),
        # A fixed workload's time just before and after the phase (benchkit.host): on a shared
        # VM the host's speed drifts by tens of percent, which moves every latency with it.
        "cpu_probe_ms": [round(host_before, 2), round(host_after, 2)],
    }


async def idle(sys_: System, *, connections: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sys_.api, timeout=60) as http:
        token, _ = await setup_accounts(http, 0)
    before = rss_kib(sys_.realtime_pid)
    sockets = []
    started = time.perf_counter()
    for _ in range(connections):
        ws = await websockets.connect(sys_.realtime_ws, max_queue=4, ping_interval=None)
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await ws.recv())["type"] == "authenticated"
        sockets.append(ws)
    opened = time.perf_counter() - started
    await asyncio.sleep(2)
    after = rss_kib(sys_.realtime_pid)
    for ws in sockets:
        await ws.close()
    return {
        "scenario": "idle",
        "connections": connections,
        "connect_rate": round(connections / opened),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_connection": round((after - before) / connections, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["all", "spread", "hot", "idle"], default="all")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--boards", type=int, default=50)
    parser.add_argument(
        "--rates", default="200,100,50", help="writes/s in the spread scenario (comma list)"
    )
    parser.add_argument("--hot-rates", default="20,5", help="writes/s on the hot board")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument(
        "--generators", type=int, default=2, help="processes that hold the subscriber sockets"
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.subscribers, args.boards, args.duration, args.idle = 100, 10, 5, 500
        args.rates, args.hot_rates = "50", "10"
    raise_fd_limit()
    print(f"machine: {machine_summary()}")
    print(f"command: {' '.join(sys.argv)}")
    results = []
    with system(args.api_workers) as sys_:
        plan = []
        if args.scenario in ("all", "spread"):
            plan += [("spread", args.boards, float(r)) for r in args.rates.split(",")]
        if args.scenario in ("all", "hot"):
            plan += [("hot", 1, float(r)) for r in args.hot_rates.split(",")]
        for label, boards, rate in plan:
            result = asyncio.run(
                fanout(
                    sys_,
                    subscribers=args.subscribers,
                    boards=boards,
                    rate=rate,
                    duration=args.duration,
                    label=label,
                    generators=args.generators,
                )
            )
            results.append(result)
            print(json.dumps(result), flush=True)
        if args.scenario in ("all", "idle"):
            results.append(asyncio.run(idle(sys_, connections=args.idle)))
            print(json.dumps(results[-1]), flush=True)
    targets = {"spread": (5, 25), "hot": (None, 50)}
    spread = [r for r in results if r["scenario"] == "spread"]
    if spread:
        kept, within = highest_rates(spread, p50_ms=5, p99_ms=25)
        print(
            f"spread: highest rate kept up with (done >= 99 % of offered): {kept}/s; "
            f"highest kept up with inside p50 <= 5 ms and p99 <= 25 ms: {within}/s"
        )
    for r in results:
        if r["scenario"] in targets:
            p50_t, p99_t = targets[r["scenario"]]
            ok50 = p50_t is None or r["p50_ms"] <= p50_t
            print(
                f"{r['scenario']} @ {r['write_rate_offered']}/s: "
                f"p50 {r['p50_ms']} ms (target {p50_t}) "
                f"p99 {r['p99_ms']} ms (target {p99_t}) -> "
                f"{'PASS' if ok50 and r['p99_ms'] <= p99_t else 'MISS'}"
            )
        elif r["scenario"] == "idle":
            print(
                f"idle: {r['kib_per_connection']} KiB/connection (target 32) -> "
                f"{'PASS' if r['kib_per_connection'] <= 32 else 'MISS'}"
            )


if __name__ == "__main__":
    main()
