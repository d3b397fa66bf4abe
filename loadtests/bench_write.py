"""Write-path and snapshot benchmark: the HTTP API against the raw SQL transaction it wraps.

One run brings the whole system up by itself (embedded PostgreSQL and Redis in a temp dir,
migrations, `taskboard api` as a real gunicorn server), then measures:

  a0. the HTTP floor: GET /healthz (no database, no auth) on the same client and server
  a.  sequential task creates over HTTP (one keep-alive connection)
  b.  concurrent task creates over HTTP (C clients on one board); b'. the same spread over C
      boards, which shows what the per-board lock costs
  c.  the create transaction straight over asyncpg, sequential (one connection) and concurrent
      (a pool of C): "lean" is the four essential statements (role check FOR NO KEY UPDATE OF
      boards, INSERT task, UPDATE boards ... RETURNING last_seq, INSERT board_events), the
      baseline of the targets; "as service" replays the statements the API sends
  d.  GET /api/v1/boards/{id} on a board of 5,000 tasks: the first GET after a write (the
      snapshot is built from PostgreSQL) and repeated GETs of one seq (served from Redis)

It prints rates, latency percentiles, the CPU each component spent per operation, the
HTTP/raw ratios against the targets (PASS/MISS), and the SQL one HTTP create runs (from
PostgreSQL's statement log). Everything it started is stopped at the end, even on error.

    .venv/bin/python loadtests/bench_write.py            # full run (about 1.5 min on 2 cores)
    .venv/bin/python loadtests/bench_write.py --quick    # smaller sizes, about 20 s
    .venv/bin/python loadtests/bench_write.py --json out.json --profile prof/   # py-spy stacks

The load generator is this one process (asyncio and benchkit.http1, a minimal HTTP/1.1 client on
a fixed set of keep-alive connections, which checks every response's status), so on a small
machine it competes for CPU with the API workers and PostgreSQL: the CPU figures show by how
much ("loadgen", per request), and "other processes" shows CPU taken by anything outside the
benchmark (a noisy run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from benchkit.host import cpu_probe_ms, machine, machine_busy
from benchkit.http1 import Pool
from taskboard.core.migrations import upgrade_to_head
from write.load_http import http_creates, http_setup, new_board, run_ops, snapshots
from write.load_sql import RawWriter, raw_concurrent, raw_sequential
from write.measure import CpuMeter, Phases
from write.pglog import postgres_log, trace_one_create
from write.report import Result, report
from write.snapshot_board import fill_board
from write.system import System

Headers = dict[str, str]


# --------------------------------------------------------------------------- the phases


async def http_phases(
    phases: Phases, client: Pool, headers: Headers, args: argparse.Namespace
) -> dict[str, Result]:
    """a0: the HTTP floor; a: sequential creates; b: concurrent creates on one board; b': the
    same spread over as many boards as clients."""
    results: dict[str, Result] = {}

    async def healthz(_: int) -> None:
        (await client.get("/healthz")).expect(200)

    results["http_floor"] = await phases.run(
        "a0. HTTP floor: GET /healthz, sequential",
        lambda: run_ops(args.tasks, 1, healthz),
        args.tasks,
    )
    board_seq = await new_board(client, headers, "http sequential")
    results["http_seq"] = await phases.run(
        "a. HTTP create, sequential",
        lambda: http_creates(client, headers, board_seq, args.tasks, 1),
        args.tasks,
        "http-seq",
    )
    board_conc = await new_board(client, headers, "http concurrent")
    results["http_conc"] = await phases.run(
        f"b. HTTP create, {args.concurrency} concurrent",
        lambda: http_creates(client, headers, board_conc, args.concurrent_tasks, args.concurrency),
        args.concurrent_tasks,
        "http-conc",
    )
    boards = [await new_board(client, headers, f"spread {n}") for n in range(args.concurrency)]
    results["http_spread"] = await phases.run(
        f"b'. HTTP create, {args.concurrency} conc., {len(boards)} boards",
        lambda: http_creates(client, headers, boards, args.concurrent_tasks, args.concurrency),
        args.concurrent_tasks,
    )
    return results


async def raw_sql_phases(
    phases: Phases,
    client: Pool,
    headers: Headers,
    user_id: uuid.UUID,
    url: str,
    args: argparse.Namespace,
) -> dict[str, Result]:
    """c: the create transaction over asyncpg, lean and as the service sends it, sequential
    (one connection) and concurrent (a pool), each on boards of its own."""
    results: dict[str, Result] = {}
    conn = await asyncpg.connect(url)
    pool = await asyncpg.create_pool(url, min_size=args.concurrency, max_size=args.concurrency)
    try:
        for service in (False, True):
            kind, key = ("as service", "svc") if service else ("lean", "raw")
            board = await new_board(client, headers, f"raw {kind} warm-up")
            await raw_concurrent(pool, RawWriter(board, user_id, service=service), 100, 8)
            board = await new_board(client, headers, f"raw {kind} sequential")
            writer = RawWriter(board, user_id, service=service)
            await raw_sequential(conn, writer, 20)  # warm-up: prepared statements
            results[f"{key}_seq"] = await phases.run(
                f"c. raw SQL {kind}, sequential",
                functools.partial(raw_sequential, conn, writer, args.tasks),
                args.tasks,
            )
            board = await new_board(client, headers, f"raw {kind} concurrent")
            writer = RawWriter(board, user_id, service=service)
            results[f"{key}_conc"] = await phases.run(
                f"c. raw SQL {kind}, {args.concurrency} concurrent",
                functools.partial(
                    raw_concurrent, pool, writer, args.concurrent_tasks, args.concurrency
                ),
                args.concurrent_tasks,
            )
    finally:
        await pool.close()
        await conn.close()
    return results


async def snapshot_phases(
    phases: Phases,
    client: Pool,
    headers: Headers,
    user_id: uuid.UUID,
    url: str,
    args: argparse.Namespace,
) -> dict[str, Result]:
    """d: GETs of a large board's snapshot, each the first after a write (built from
    PostgreSQL), then repeated GETs of one seq (served from the Redis cache)."""
    results: dict[str, Result] = {}
    snap_board = await new_board(client, headers, "snapshot")
    filled = await fill_board(url, snap_board, user_id, args.snapshot_tasks)
    await snapshots(client, headers, snap_board, 3, write_before=True)  # warm-up
    size = ntasks = 0
    for key, cold, label in (
        ("snapshot_miss", True, "first GET after a write"),
        ("snapshot_hit", False, "cached seq"),
    ):
        snap = Result(f"d. GET snapshot, {label}", args.snapshot_gets, 0.0, [], extra=dict(filled))
        with phases.measured(snap, key, count_connections=False):
            snap.seconds, snap.latencies_ms, size, ntasks = await snapshots(
                client, headers, snap_board, args.snapshot_gets, write_before=cold
            )
        snap.extra.update(response_bytes=size, tasks_in_response=ntasks)
        results[key] = snap
        print(snap.line())
        print(snap.cpu_line() + (" (CPU includes the untimed create)" if cold else ""))
    print(
        f"{'':<40} response {size / 1024:.0f} KiB, {ntasks} tasks, "
        f"{filled['assignments']} assignments, {filled['labelled']} labelled"
    )
    return results


async def bench(system: System, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase in order, against the started, ready system; returns the JSON report."""
    assert system.pg is not None
    assert system.redis is not None
    assert system.api is not None
    url = system.pg.url
    workers = system.worker_pids()
    meter = CpuMeter(
        {
            "loadgen": os.getpid(),
            "api": system.api.pid,
            "postgres": system.postmaster_pid(),
            "redis": system.redis._process.pid if system.redis._process else -1,
        }
    )
    conn = await asyncpg.connect(url)
    pg_version = await conn.fetchval("SHOW server_version")
    # Count the connections each phase opens (a pool that churns connections shows here).
    await conn.execute("ALTER SYSTEM SET log_connections = 'on'")
    await conn.execute("SELECT pg_reload_conf()")
    await conn.close()
    print(f"postgres {pg_version}; api at {system.base_url}, gunicorn workers {workers}")
    profile_dir = Path(args.profile) if args.profile else None
    phases = Phases(meter, workers, profile_dir, postgres_log(system.pg))

    results: dict[str, Result] = {}
    async with Pool(system.base_url, args.concurrency) as client:
        headers, user_id = await http_setup(client)
        warm = await new_board(client, headers, "warm-up")
        # Warm every worker's pool, prepared statements and code paths.
        await http_creates(client, headers, warm, args.warmup, min(args.concurrency, 8))
        statements = await trace_one_create(system.pg, client, headers, warm)

        results |= await http_phases(phases, client, headers, args)
        results |= await raw_sql_phases(phases, client, headers, user_id, url, args)
        results |= await snapshot_phases(phases, client, headers, user_id, url, args)
        # Keep-alive must hold, or the figures would include connection set-up.
        print(f"load generator: {client.connects} TCP connections for {args.concurrency} lanes")
    return report(pg_version, results, statements)


# --------------------------------------------------------------------------- main


def sizes(args: argparse.Namespace) -> None:
    if args.quick:
        for name, value in (
            ("tasks", 100),
            ("concurrent_tasks", 400),
            ("snapshot_tasks", 1000),
            ("snapshot_gets", 20),
            ("warmup", 40),
        ):
            if getattr(args, name) is None:
                setattr(args, name, value)
    for name, value in (
        ("tasks", 500),
        ("concurrent_tasks", 2000),
        ("snapshot_tasks", 5000),
        ("snapshot_gets", 50),
        ("warmup", 100),
    ):
        if getattr(args, name) is None:
            setattr(args, name, value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, help="sequential creates, HTTP and raw (500)")
    parser.add_argument("--concurrent-tasks", type=int, help="concurrent creates in total (2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--snapshot-tasks", type=int, help="tasks on the snapshot board (5000)")
    parser.add_argument("--snapshot-gets", type=int, help="timed snapshot GETs (50)")
    parser.add_argument("--warmup", type=int, help="untimed creates before measuring (100)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 sequential, 400 concurrent, a 1,000-task snapshot x 20, 40 warm-up",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--profile", help="py-spy (if installed) the API workers; raw stacks go to this folder"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="PostgreSQL with fsync and synchronous commit, as `taskboard up` runs it",
    )
    args = parser.parse_args(argv)
    sizes(args)
    if args.profile:
        args.profile = str(Path(args.profile).resolve())

    info = machine()
    b0, t0 = machine_busy()
    time.sleep(1.0)
    b1, t1 = machine_busy()
    info["busy_before_start"] = f"{(b1 - b0) / (t1 - t0) * (os.cpu_count() or 1):.2f} cores"
    info["cpu_probe"] = f"{cpu_probe_ms():.1f} ms"
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(
        f"sizes: sequential {args.tasks}, concurrent {args.concurrent_tasks} on "
        f"{args.concurrency} clients, snapshot {args.snapshot_tasks} tasks x "
        f"{args.snapshot_gets} GETs, {args.workers} API workers, "
        f"PostgreSQL {'durable (fsync on)' if args.durable else 'fsync off'}",
        flush=True,
    )

    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    system = System(
        Path(tempfile.mkdtemp(prefix="taskboard-bench-")), args.workers, durable=args.durable
    )
    try:
        system.start_stores()
        assert system.pg is not None
        upgrade_to_head(system.pg.url)  # runs its own event loop: before ours starts
        system.start_api()
        system.wait_ready()
        if not args.no_uvloop:
            with contextlib.suppress(ImportError):
                import uvloop

                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        figures = asyncio.run(bench(system, args))
    except BaseException:
        tail = system.tail()
        if tail:
            print(f"\n--- api log tail ---\n{tail}", file=sys.stderr)
        raise
    finally:
        system.stop()
    if args.json:
        figures.update(machine=info, args=vars(args))
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
