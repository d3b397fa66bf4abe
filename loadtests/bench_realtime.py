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
import contextlib
import gc
import json
import multiprocessing
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from taskboard.embedded.servers import EmbeddedPostgres, EmbeddedRedis, free_port

API = "/api/v1"


# ---------------------------------------------------------------- the system under test


@dataclass
class System:
    env: dict[str, str]
    api: str
    realtime_ws: str
    realtime_pid: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _spawn(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "taskboard.cli", kind, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_raise_fd_limit,
    )


def _wait_ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


@contextlib.contextmanager
def system(api_workers: int) -> Any:
    base = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    pg = EmbeddedPostgres(base / "pg")
    redis = EmbeddedRedis(base / "redis", persistent=False)
    pg.start()
    redis.start()
    env = {
        **os.environ,
        "TASKBOARD_DATABASE_URL": pg.url,
        "TASKBOARD_REDIS_URL": redis.url,
        "TASKBOARD_SECRET_KEY": secrets.token_urlsafe(48),
        "TASKBOARD_WEB_CONCURRENCY": str(api_workers),
        "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
        "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "1000000",
        "TASKBOARD_LOG_LEVEL": "WARNING",
        "TASKBOARD_DB_POOL_SIZE": "20",
        "TASKBOARD_WS_SEND_QUEUE_SIZE": "5000",
    }
    subprocess.run([sys.executable, "-m", "taskboard.cli", "migrate"], env=env, check=True)
    ports = {kind: free_port() for kind in ("api", "realtime", "relay")}
    procs = [_spawn(kind, port, env) for kind, port in ports.items()]
    try:
        for port in ports.values():
            _wait_ready(f"http://127.0.0.1:{port}")
        yield System(
            env=env,
            api=f"http://127.0.0.1:{ports['api']}",
            realtime_ws=f"ws://127.0.0.1:{ports['realtime']}/ws",
            realtime_pid=procs[1].pid,
            processes=procs,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.stop()
        pg.stop(remove_data=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- load


@dataclass
class Probe:
    http: list[float] = field(default_factory=list)  # the create request itself
    last_write_done: float = 0.0
    write_errors: int = 0


async def subscriber(
    url: str,
    token: str,
    board_id: str,
    out: SubscriberResults,
    ready: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    async with websockets.connect(url, max_queue=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "board_id": board_id}))
        ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            wall = time.time()
            # String slicing, not json.loads: at 20,000 frames/s the load generator's own
            # parsing would dominate what is measured. Titles carry the request's start time
            # (wall clock: the writer may be another process).
            at = raw.find('"title":"w')
            if at < 0:
                continue
            title = raw[at + 9 : raw.index('"', at + 10)]
            out.latencies.append(wall - float(title.split("@", 1)[1]))
            ts_at = raw.rfind('"ts":"')
            if ts_at >= 0:
                ts = raw[ts_at + 6 : raw.index('"', ts_at + 6)]
                committed = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
                out.after_commit.append(wall - committed)
            out.frames.value += 1


@dataclass
class SubscriberResults:
    frames: Any  # a multiprocessing.Value shared with the parent
    latencies: list[float] = field(default_factory=list)
    after_commit: list[float] = field(default_factory=list)


def subscriber_process(
    url: str, token: str, boards: list[str], ready: Any, stop: Any, frames: Any, results: Any
) -> None:
    """One load-generator process: its share of the subscribers, reported back at the end."""

    async def run() -> None:
        out = SubscriberResults(frames)
        local_stop = asyncio.Event()
        readies = [asyncio.Event() for _ in boards]
        tasks = []
        for i, board_id in enumerate(boards):
            tasks.append(
                asyncio.create_task(subscriber(url, token, board_id, out, readies[i], local_stop))
            )
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        await asyncio.gather(*[r.wait() for r in readies])
        # The generator's own cyclic-GC pauses would show up as latency: keep them out.
        gc.freeze()
        gc.disable()
        ready.set()
        while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing event, not an asyncio one
            await asyncio.sleep(0.1)
        local_stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        results.put((out.latencies, out.after_commit))

    _raise_fd_limit()
    asyncio.run(run())


async def writer(
    http: httpx.AsyncClient,
    token: str,
    boards: list[str],
    rate: float,
    duration: float,
    probe: Probe,
) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    sent = 0
    inflight: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        started = time.perf_counter()
        title = f"w{i}@{time.time():.6f}"
        response = await http.post(
            f"{API}/boards/{boards[i % len(boards)]}/tasks", json={"title": title}, headers=headers
        )
        probe.last_write_done = time.perf_counter()
        probe.http.append(probe.last_write_done - started)
        if response.status_code != 201:
            probe.write_errors += 1

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


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else float("nan")


async def fanout(
    sys_: System,
    *,
    subscribers: int,
    boards: int,
    rate: float,
    duration: float,
    label: str,
    generators: int,
) -> dict[str, Any]:
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
        while not all(r.is_set() for r in readies):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        probe = Probe()
        cpu0, t0 = cpu_seconds(sys_.realtime_pid), time.perf_counter()
        sent = await writer(http, token, board_ids, rate, duration, probe)
        expected = sent * subscribers // boards
        deadline = time.perf_counter() + 15
        while sum(c.value for c in counters) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - t0
        received = sum(c.value for c in counters)
        rt_cpu = (cpu_seconds(sys_.realtime_pid) - cpu0) / elapsed
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
        "http_p50_ms": round(pct(probe.http, 0.50), 2),
        "http_p99_ms": round(pct(probe.http, 0.99), 2),
        "after_commit_p50_ms": round(pct(after_commit, 0.50), 2),
        "after_commit_p99_ms": round(pct(after_commit, 0.99), 2),
        "write_errors": probe.write_errors,
        "frames_expected": expected,
        "frames_received": received,
        "frames_per_s": round(received / elapsed),
        "p50_ms": round(pct(latencies, 0.50), 2),
        "p95_ms": round(pct(latencies, 0.95), 2),
        "p99_ms": round(pct(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "realtime_cpu_cores": round(rt_cpu, 2),
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


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return (
        f"{os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


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
    _raise_fd_limit()
    print(f"machine: {machine()}")
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
