#!/usr/bin/env python3
"""Capacity benchmark: the CPU and memory each tier spends per unit of work.

Brings the system up itself as `bench_realtime.py` does (embedded PostgreSQL and Redis,
`taskboard api`, `taskboard realtime` and `taskboard worker` as real processes, a real SMTP
server in a process of its own), then, for each unit of work, reads every process's CPU time
from /proc just before and just after a batch of that unit and divides by the batch:

  background   nothing happening: each tier's CPU per second at rest (subtracted below)
  create       task creates on a board nobody watches, then on a board with S subscribers
               (api, PostgreSQL, Redis, realtime, worker: the notifier and relay read every event)
  frame        the realtime pod's CPU per frame delivered: the difference between the two
               create batches over the frames the second one delivered
  snapshot     GET /api/v1/boards/{id} of a board of 100 and of 1,000 tasks, built from
               PostgreSQL (its cache entry deleted before each GET) and served from the cache
  idle socket  M authenticated sockets held open: realtime RSS per socket, and its CPU per
               socket per minute (keepalive pings, housekeeping)
  reminder     N overdue reminders falling due at once, one e-mail each: worker CPU per e-mail

Each figure is net of the tier's background CPU over the batch's wall time. CPU time per unit
is far less disturbed by a busy host than a rate or a latency (a process waiting for a core
spends no CPU meanwhile), so the figures hold on a shared machine where wall-clock rates do
not; they still move by some tens of per cent with the host's speed (the CPU probe says how
fast it was). Everything it started is stopped at the end.

    .venv/bin/python loadtests/bench_capacity.py                 # the full run, a few minutes
    .venv/bin/python loadtests/bench_capacity.py --quick         # smoke size, under a minute
    .venv/bin/python loadtests/bench_capacity.py --json out.json # also keep the figures
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import websockets

from bench_worker import Receivers, create_due_tasks, reminder_board
from benchkit.host import cpu_probe_ms, machine_busy, machine_summary, proc_table, rss_kib
from benchkit.http1 import Pool
from benchkit.stats import percentile
from realtime.subscribers import subscriber_process
from realtime.system import System, raise_fd_limit, system
from write.load_http import API, http_setup, new_board, run_ops
from write.measure import CpuMeter
from write.pglog import log_records
from write.snapshot_board import fill_board

TIERS = ("api", "realtime", "worker", "postgres", "redis")


@dataclass
class Batch:
    """One unit's batch: how many units, its wall time and each tier's CPU seconds (gross)."""

    unit: str
    count: int
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    busy_cores: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def net_ms(self, background: dict[str, float]) -> dict[str, float]:
        """Each tier's CPU milliseconds per unit, less its background over the batch."""
        return {
            tier: round(
                (self.cpu[tier] - background.get(tier, 0.0) * self.seconds) / self.count * 1000, 4
            )
            for tier in TIERS
        }


class Meter:
    """Every tier's CPU (its whole process tree, reaped children included) around a block."""

    def __init__(self, sut: System) -> None:
        roots = {p.name: p.pid for p in sut.processes}
        self.cpu = CpuMeter(
            {
                "api": roots["api"],
                "realtime": roots["realtime"],
                "worker": roots["worker"],
                "postgres": sut.postgres_pid,
                "redis": sut.redis_pid,
            }
        )
        self.roots = {**roots, "postgres": sut.postgres_pid, "redis": sut.redis_pid}

    @contextlib.asynccontextmanager
    async def batch(self, batch: Batch) -> AsyncIterator[Batch]:
        busy: list[float] = []
        started = time.perf_counter()
        with self.cpu.measure(batch.cpu, busy):
            yield batch
            batch.seconds = time.perf_counter() - started
        batch.busy_cores = round(busy[0], 2)

    def rss_mib(self) -> dict[str, float]:
        """Each tier's resident memory, its process tree summed (PostgreSQL's shared buffers
        are counted once per backend that touched them: an upper bound)."""
        table = proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        out = {}
        for tier in TIERS:
            total, stack = 0, [self.roots[tier]]
            while stack:
                pid = stack.pop()
                with contextlib.suppress(OSError):
                    total += rss_kib(pid)
                stack.extend(children.get(pid, []))
            out[tier] = round(total / 1024, 1)
        return out


async def settled(conn: asyncpg.Connection, board: uuid.UUID, within: float = 120) -> None:
    """Until the worker's notifier has handled every event of `board` (its progress row
    reaches the board's seq): the worker's share of a write happens after the response."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        behind = await conn.fetchval(
            "SELECT b.last_seq > coalesce(n.seq, 0) FROM boards b "
            "LEFT JOIN notified_up_to n ON n.board_id = b.id WHERE b.id = $1",
            board,
        )
        if not behind:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the notifier did not reach board {board}'s last event in {within} s")


# --------------------------------------------------------------------------- the units


def commands(cache: redis.Redis) -> dict[str, int]:
    """Redis's own count of the calls of each command so far (INFO commandstats)."""
    stats: dict[str, Any] = cache.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def background(meter: Meter, seconds: float) -> dict[str, float]:
    """Each tier's CPU seconds per second with nothing happening."""
    batch = Batch("background", 1)
    async with meter.batch(batch):
        await asyncio.sleep(seconds)
    rates = {tier: batch.cpu[tier] / batch.seconds for tier in TIERS}
    print(
        "background, CPU ms per second at rest: "
        + ", ".join(f"{t} {v * 1000:.1f}" for t, v in rates.items()),
        flush=True,
    )
    return rates


async def creates(
    meter: Meter,
    client: Pool,
    headers: dict[str, str],
    conn: asyncpg.Connection,
    cache: redis.Redis,
    ws_url: str,
    *,
    subscribers: int,
    count: int,
    concurrency: int,
) -> Batch:
    """`count` creates on a fresh board with `subscribers` sockets subscribed to it (in a
    load-generator process of their own); the batch ends once every frame arrived and the
    notifier has handled every event."""
    board = await new_board(client, headers, f"capacity {subscribers} subscribers")
    token = headers["Authorization"].removeprefix("Bearer ")
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    ready, frames = ctx.Event(), ctx.Value("q", 0, lock=False)
    proc = None
    if subscribers:
        proc = ctx.Process(
            target=subscriber_process,
            args=(ws_url, token, [str(board)] * subscribers, ready, stop, frames, results),
        )
        proc.start()
        while not ready.is_set():
            if not proc.is_alive():
                raise RuntimeError("the subscribers' process failed before they were ready")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    url = f"{API}/boards/{board}/tasks"

    async def create(i: int) -> None:
        # The title carries the send time: the subscribers count (and time) frames by it.
        title = f"w{i}@{time.time():.6f}"
        (await client.post(url, json_body={"title": title}, headers=headers)).expect(201)

    batch = Batch(f"create, {subscribers} subscribers", count)
    calls = commands(cache)
    try:
        async with meter.batch(batch):
            await run_ops(count, concurrency, create)
            expected = count * subscribers
            deadline = time.monotonic() + 60
            # A counter another process bumps: polled, there is no event to await.
            while frames.value < expected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            await settled(conn, board)
        after = commands(cache)
        batch.extra = {
            "subscribers": subscribers,
            "frames": frames.value,
            "redis_calls_per_create": {
                name: round((n - calls.get(name, 0)) / count, 2)
                for name, n in sorted(after.items())
                if n - calls.get(name, 0) >= count / 10
            },
        }
        if frames.value < expected:
            raise RuntimeError(f"{expected - frames.value} of {expected} frames did not arrive")
    finally:
        if proc is not None:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(results.get, True, 60)
            proc.join(timeout=30)
    return batch


async def lock_hold(
    client: Pool, headers: dict[str, str], conn: asyncpg.Connection, *, count: int, lanes: int
) -> dict[str, Any]:
    """How long a create holds its board's row lock, from PostgreSQL's statement log, over
    `count` creates on one board from `lanes` clients. A create is one call of
    taskboard_create_task, its own transaction: it takes the lock first and keeps it to its
    end, and the board's creates run one after another, so, in the order they ended, each
    held the lock from its start or the previous one's end, whichever is later, to its own
    end (start = end - the logged duration). Where the service falls back to separate
    statements, the hold is from the end of the locking statement (`FOR NO KEY UPDATE OF b`) to
    the end of the COMMIT on the same backend. The log's timestamps are whole milliseconds:
    the mean over many is the figure, not one hold. Every statement is logged during the
    batch, so no CPU is measured here."""
    log = Path(await conn.fetchval("SHOW data_directory")).parent / "postgres.log"
    board = await new_board(client, headers, f"lock hold {lanes}")
    url = f"{API}/boards/{board}/tasks"

    async def create(i: int) -> None:
        (await client.post(url, json_body={"title": f"h{i}"}, headers=headers)).expect(201)

    await conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
    await conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] '")
    await conn.execute("SELECT pg_reload_conf()")
    await asyncio.sleep(0.5)
    start = log.stat().st_size
    try:
        seconds, _ = await run_ops(count, lanes, create)
        await asyncio.sleep(0.5)
    finally:
        await conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
        await conn.execute("ALTER SYSTEM RESET log_line_prefix")
        await conn.execute("SELECT pg_reload_conf()")
    records = log_records(log, start)
    locked: dict[str, datetime] = {}
    holds: list[float] = []
    calls: list[tuple[float, float]] = []  # (end, duration) of each function call, in ms
    for record in records:
        if "duration: " not in record:
            continue
        # "2026-12-03 16:19:51.260 UTC [1234] LOG:  duration: 0.1 ms  execute x: SELECT ..."
        at = datetime.strptime(record[:23], "%Y-%m-%d %H:%M:%S.%f")
        pid = record[record.index("[") + 1 : record.index("]")]
        step, _, sql = record.split("  ", 2)[-1].partition(": ")
        sql = sql.strip()
        duration = float(record.split("duration: ", 1)[1].split(" ", 1)[0])
        # A prepared statement logs its parse and bind steps too; the execute is the call.
        if "taskboard_create_task(" in sql and step.startswith(("execute", "statement")):
            calls.append((at.timestamp() * 1000, duration))
        elif "FOR NO KEY UPDATE OF b" in sql:
            locked[pid] = at
        elif sql.rstrip(";") == "COMMIT" and pid in locked:
            holds.append((at - locked.pop(pid)).total_seconds() * 1000)
    previous_end = float("-inf")
    for end, duration in sorted(calls):
        holds.append(max(0.0, end - max(end - duration, previous_end)))
        previous_end = end
    if len(holds) < count:
        raise RuntimeError(f"the log showed {len(holds)} lock holds for {count} creates")
    mean = sum(holds) / len(holds)
    result = {
        "lanes": lanes,
        "creates": count,
        "hold_ms_mean": round(mean, 3),
        "hold_ms_p50": round(percentile(holds, 50), 1),
        "hold_ms_p95": round(percentile(holds, 95), 1),
        "max_writes_per_s_per_board": round(1000 / mean) if mean > 0 else None,
        "rate_per_s": round(count / seconds, 1),
    }
    print(
        f"board lock hold, {lanes} lane(s) on one board: mean {result['hold_ms_mean']} ms, "
        f"p50 {result['hold_ms_p50']} p95 {result['hold_ms_p95']} ms -> at most "
        f"{result['max_writes_per_s_per_board']} writes/s per board at this hold "
        f"({result['rate_per_s']} creates/s done)",
        flush=True,
    )
    return result


async def snapshots(
    meter: Meter,
    client: Pool,
    headers: dict[str, str],
    user: uuid.UUID,
    pg_url: str,
    cache: redis.Redis,
    *,
    tasks: int,
    gets: int,
) -> tuple[Batch, Batch]:
    """GETs of a board of `tasks` tasks: built (its cache entries deleted before each GET,
    so PostgreSQL builds it; no write in between) and cached (one seq, from Redis)."""
    board = await new_board(client, headers, f"snapshot {tasks}")
    await fill_board(pg_url, board, user, tasks)
    url = f"{API}/boards/{board}"
    pattern = f"tb:snapshot:{board}:*"

    def forget() -> None:
        keys = list(cache.scan_iter(match=pattern, count=1000))
        if keys:
            cache.delete(*keys)

    async def built(_: int) -> None:
        forget()
        (await client.get(url, headers=headers)).expect(200)

    async def cached(_: int) -> None:
        (await client.get(url, headers=headers)).expect(200)

    await run_ops(3, 1, built)  # warm-up: code paths, prepared statements
    body = (await client.get(url, headers=headers)).expect(200).json()
    out = []
    for label, op in (("built", built), ("cached", cached)):
        batch = Batch(f"snapshot GET, {tasks} tasks, {label}", gets)
        async with meter.batch(batch):
            await run_ops(gets, 1, op)
        batch.extra = {"tasks_in_response": len(body["tasks"])}
        out.append(batch)
    return out[0], out[1]


async def idle_sockets(
    meter: Meter, sut: System, token: str, *, sockets: int, seconds: float
) -> Batch:
    """`sockets` authenticated sockets (no subscription), held for `seconds`: the realtime
    pod's RSS per socket, and its CPU per socket per minute over the hold."""
    realtime_pid = sut.realtime_pid
    before = rss_kib(realtime_pid)
    held = []
    try:
        for _ in range(sockets):
            ws = await websockets.connect(sut.realtime_ws, max_queue=4, ping_interval=None)
            await ws.send(json.dumps({"type": "auth", "token": token}))
            if json.loads(await ws.recv())["type"] != "authenticated":
                raise RuntimeError("an idle socket was not authenticated")
            held.append(ws)
        await asyncio.sleep(1.0)
        batch = Batch("idle socket", sockets)
        async with meter.batch(batch):
            await asyncio.sleep(seconds)
        after = rss_kib(realtime_pid)
    finally:
        for ws in held:
            await ws.close()
    batch.extra = {
        "rss_before_kib": before,
        "rss_after_kib": after,
        "kib_per_socket": round((after - before) / sockets, 2),
        "hold_seconds": round(batch.seconds, 1),
    }
    return batch


async def reminder_emails(
    meter: Meter, api: str, receivers: Receivers, conn: asyncpg.Connection, *, count: int
) -> Batch:
    """`count` tasks whose overdue reminder falls due at once, one e-mail each (as
    bench_worker.py's reminder phase): the batch runs from just before they fall due to the
    last e-mail, after the worker has handled the creates themselves."""
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        owner, ada, board = await reminder_board(http)
        due = datetime.now(UTC) + timedelta(seconds=3 + count / 10)  # time to create them all
        await create_due_tasks(http, owner, board, ada, due, count)
    await settled(conn, uuid.UUID(board))
    if datetime.now(UTC) > due - timedelta(seconds=0.3):
        raise RuntimeError("the reminders fell due before their tasks were all handled")
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.3))
    already = len(receivers.emails())
    batch = Batch("reminder e-mail", count)
    async with meter.batch(batch):
        deadline = time.monotonic() + 120 + count / 5
        # What the receivers' process has seen: polled, there is no event to await.
        while len(receivers.emails()) - already < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    got = len(receivers.emails()) - already
    batch.extra = {"emails": got}
    if got < count:
        raise RuntimeError(f"{count - got} of {count} reminder e-mails did not arrive")
    return batch


# --------------------------------------------------------------------------- the run


async def measure(sut: System, receivers: Receivers, args: argparse.Namespace) -> dict[str, Any]:
    meter = Meter(sut)
    pg_url = sut.env["TASKBOARD_DATABASE_URL"]
    cache = redis.Redis.from_url(sut.env["TASKBOARD_REDIS_URL"])
    conn = await asyncpg.connect(pg_url)
    batches: list[Batch] = []
    try:
        async with Pool(sut.api, args.concurrency) as client:
            headers, user = await http_setup(client)
            token = headers["Authorization"].removeprefix("Bearer ")
            warm = await new_board(client, headers, "warm-up")

            async def warm_create(i: int) -> None:
                body = {"title": f"warm {i}"}
                r = await client.post(f"{API}/boards/{warm}/tasks", json_body=body, headers=headers)
                r.expect(201)

            await run_ops(args.warmup, args.concurrency, warm_create)
            await settled(conn, warm)
            rest = meter.rss_mib()
            bg = await background(meter, args.background)

            for subs in (0, args.subscribers):
                batch = await creates(
                    meter, client, headers, conn, cache, sut.realtime_ws,
                    subscribers=subs, count=args.creates, concurrency=args.concurrency,
                )  # fmt: skip
                batches.append(batch)
                report_line(batch, bg)
            holds = [
                await lock_hold(client, headers, conn, count=args.creates // 3, lanes=lanes)
                for lanes in (1, args.lock_lanes)
            ]
            for tasks in args.snapshot_tasks:
                for batch in await snapshots(
                    meter, client, headers, user, pg_url, cache, tasks=tasks, gets=args.gets
                ):
                    batches.append(batch)
                    report_line(batch, bg)
            batch = await idle_sockets(
                meter, sut, token, sockets=args.idle_sockets, seconds=args.idle_seconds
            )
            batches.append(batch)
            report_line(batch, bg)
        batch = await reminder_emails(meter, sut.api, receivers, conn, count=args.reminders)
        batches.append(batch)
        report_line(batch, bg)
        loaded = meter.rss_mib()
    finally:
        await conn.close()
        cache.close()
    return {**figures(batches, bg, rest, loaded), "lock_hold": holds}


def report_line(batch: Batch, bg: dict[str, float]) -> None:
    net = batch.net_ms(bg)
    print(
        f"{batch.unit:<40} n={batch.count:<6} {batch.seconds:6.1f} s, machine busy "
        f"{batch.busy_cores:.2f} cores; CPU ms/unit: "
        + ", ".join(f"{t} {v:.3f}" for t, v in net.items()),
        flush=True,
    )


def figures(
    batches: list[Batch], bg: dict[str, float], rest: dict[str, float], loaded: dict[str, float]
) -> dict[str, Any]:
    """The per-unit figures the report prints and `--json` keeps."""
    units: dict[str, Any] = {}
    for b in batches:
        units[b.unit] = {
            "count": b.count,
            "seconds": round(b.seconds, 2),
            "busy_cores": b.busy_cores,
            "cpu_ms": b.net_ms(bg),
            "gross_cpu_ms": {t: round(b.cpu[t] / b.count * 1000, 4) for t in TIERS},
            **b.extra,
        }
    quiet = units["create, 0 subscribers"]
    hot = next(u for k, u in units.items() if k.startswith("create, ") and u is not quiet)
    # The realtime pod's CPU for an event its sockets do not watch (it reads every event) is
    # the first batch's; what the subscribed sockets add, over the frames, is per frame.
    per_create_extra = hot["cpu_ms"]["realtime"] - quiet["cpu_ms"]["realtime"]
    frames_per_create = hot["frames"] / hot["count"]
    idle = units["idle socket"]
    realtime_idle_ms = idle["cpu_ms"]["realtime"] / idle["hold_seconds"] * 60
    return {
        "units": units,
        "derived": {
            "realtime_us_per_frame": round(per_create_extra / frames_per_create * 1000, 2),
            "realtime_us_per_frame_gross": round(
                hot["cpu_ms"]["realtime"] / frames_per_create * 1000, 2
            ),
            "realtime_ms_per_unwatched_event": quiet["cpu_ms"]["realtime"],
            "realtime_kib_per_idle_socket": idle["kib_per_socket"],
            "realtime_cpu_ms_per_idle_socket_minute": round(realtime_idle_ms, 4),
            "worker_ms_per_reminder_email": units["reminder e-mail"]["cpu_ms"]["worker"],
        },
        "background_cpu_ms_per_s": {t: round(v * 1000, 2) for t, v in bg.items()},
        "rss_mib_at_rest": rest,
        "rss_mib_at_end": loaded,
    }


def print_table(report: dict[str, Any]) -> None:
    print("\nCPU ms per unit (net of each tier's background; '-' where the tier has no part):")
    print("| unit | n | " + " | ".join(TIERS) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in TIERS) + " |")
    relevant = {
        "create": set(TIERS),
        "snapshot": {"api", "postgres", "redis"},
        "idle socket": {"realtime"},
        "reminder": {"worker", "postgres", "redis"},
    }
    for unit, u in report["units"].items():
        tiers = next(v for k, v in relevant.items() if unit.startswith(k))
        cells = [f"{u['cpu_ms'][t]:.3f}" if t in tiers else "-" for t in TIERS]
        print(f"| {unit} | {u['count']} | " + " | ".join(cells) + " |")
    for unit, u in report["units"].items():
        if "redis_calls_per_create" in u:
            calls = u["redis_calls_per_create"]
            print(
                f"Redis calls per create ({unit}): {sum(calls.values()):.2f}: "
                + ", ".join(f"{name} {n}" for name, n in calls.items())
            )
    d = report["derived"]
    print("\n| derived figure | value |")
    print("| --- | ---: |")
    rows = {
        "realtime CPU µs per delivered frame": "realtime_us_per_frame",
        "realtime CPU µs per frame, gross (event read included)": "realtime_us_per_frame_gross",
        "realtime CPU ms per event nobody on the pod watches": "realtime_ms_per_unwatched_event",
        "realtime RSS KiB per idle socket": "realtime_kib_per_idle_socket",
        "realtime CPU ms per idle socket per minute": "realtime_cpu_ms_per_idle_socket_minute",
        "worker CPU ms per reminder e-mail": "worker_ms_per_reminder_email",
    }
    for name, key in rows.items():
        print(f"| {name} | {d[key]} |")
    print(
        "\n| board lock (statement log) | creates | hold mean ms | p50 / p95 ms "
        "| writes/s per board at most |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for h in report["lock_hold"]:
        print(
            f"| {h['lanes']} client(s) on one board | {h['creates']} | {h['hold_ms_mean']} | "
            f"{h['hold_ms_p50']} / {h['hold_ms_p95']} | {h['max_writes_per_s_per_board']} |"
        )
    print("\n| tier | RSS MiB at rest | at the end |")
    print("| --- | ---: | ---: |")
    for tier in TIERS:
        print(f"| {tier} | {report['rss_mib_at_rest'][tier]} | {report['rss_mib_at_end'][tier]} |")
    print(
        "background CPU ms/s: "
        + ", ".join(f"{t} {v}" for t, v in report["background_cpu_ms_per_s"].items())
    )


def check(report: dict[str, Any]) -> list[str]:
    """What was not measured: a unit's main figure that is not a positive, finite number."""
    mains = {
        "api CPU per create": report["units"]["create, 0 subscribers"]["cpu_ms"]["api"],
        "postgres CPU per create": report["units"]["create, 0 subscribers"]["cpu_ms"]["postgres"],
        "realtime CPU per frame": report["derived"]["realtime_us_per_frame_gross"],
        "RSS per idle socket": report["derived"]["realtime_kib_per_idle_socket"],
        "worker CPU per reminder": report["derived"]["worker_ms_per_reminder_email"],
    }
    for unit, u in report["units"].items():
        if unit.startswith("snapshot"):
            mains[f"api CPU per {unit}"] = u["cpu_ms"]["api"]
    return [name for name, v in mains.items() if not (math.isfinite(v) and v > 0)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes, under a minute")
    parser.add_argument("--creates", type=int, default=1000, help="creates per batch")
    parser.add_argument("--concurrency", type=int, default=4, help="create/GET client lanes")
    parser.add_argument(
        "--lock-lanes", type=int, default=8, help="clients on one board for the lock hold"
    )
    parser.add_argument("--subscribers", type=int, default=200, help="sockets on the hot board")
    parser.add_argument("--snapshot-tasks", default="100,1000", help="board sizes (comma list)")
    parser.add_argument("--gets", type=int, default=50, help="snapshot GETs per batch")
    parser.add_argument("--idle-sockets", type=int, default=5000)
    parser.add_argument("--idle-seconds", type=float, default=60, help="hold of the idle sockets")
    parser.add_argument("--reminders", type=int, default=500)
    parser.add_argument("--background", type=float, default=20, help="seconds at rest measured")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.creates, args.subscribers, args.gets, args.idle_sockets = 100, 20, 10, 200
        args.idle_seconds, args.reminders, args.background, args.warmup = 2, 20, 2, 20
    args.snapshot_tasks = [int(n) for n in args.snapshot_tasks.split(",")]
    raise_fd_limit()
    b0, t0 = machine_busy()
    time.sleep(1.0)
    b1, t1 = machine_busy()
    busy = (b1 - b0) / (t1 - t0) * (os.cpu_count() or 1)
    machine = machine_summary()
    probe = cpu_probe_ms()
    print(f"machine: {machine}")
    print(f"busy before start: {busy:.2f} cores; load average {os.getloadavg()[0]:.2f}; "
          f"CPU probe {probe:.1f} ms")  # fmt: skip
    print(f"command: {' '.join(sys.argv)}", flush=True)
    receivers = Receivers()
    env = {
        "TASKBOARD_SMTP_URL": f"smtp://127.0.0.1:{receivers.smtp_port}",
        # Every reminder its own e-mail (as bench_worker.py's reminder phase).
        "TASKBOARD_EMAIL_DIGEST_SECONDS": "0",
        "TASKBOARD_QUOTA_TASKS_PER_BOARD": "1000000",
    }
    try:
        with system(args.api_workers, kinds=("api", "realtime", "worker"), extra_env=env) as sut:
            report = asyncio.run(measure(sut, receivers, args))
    finally:
        receivers.stop()
    report.update(
        machine=machine,
        busy_before_start_cores=round(busy, 2),
        cpu_probe_ms=round(probe, 2),
        command=" ".join(sys.argv),
        args={k: v for k, v in vars(args).items() if k != "json"},
    )
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    missing = check(report)
    if missing:
        print(f"not measured (not a positive, finite figure): {', '.join(missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
