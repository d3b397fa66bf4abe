"""The api's CPU per task create, side by side: two code trees, one machine, interleaved.

On a shared machine a figure from one run cannot be compared with a figure from another (the
host's speed drifts by tens of percent within minutes). This script starts one PostgreSQL and
one Redis, then one `taskboard api` (gunicorn, one uvicorn worker) per code tree: the baseline
(`--base-rev REV`, exported with `git archive`, or `--base DIR` holding a `taskboard` package)
and the working tree. It alternates blocks of task creates between them, ABBA, each block on a
fresh board, and reads every process's CPU time from /proc around each block. The figure is the
api processes' CPU seconds per create, which a busy machine disturbs far less than wall time.

    .venv/bin/python loadtests/compare_write.py --base-rev HEAD               # HEAD vs working tree
    .venv/bin/python loadtests/compare_write.py --base-rev main --rounds 8 --block 400
    .venv/bin/python loadtests/compare_write.py --profile prof/               # + py-spy stacks

Without a baseline it measures the working tree alone. `--profile DIR` ends with one longer
sequential block per side under py-spy, writes the collapsed stacks there (speedscope opens
them) and prints where the worker's samples went, by layer and by stage.

Modes: `seq` is one client, one request at a time; `conc` is `--concurrency` clients on one
board (the per-board lock serializes their transactions), `spread` the same clients over as many
boards. The load generator is benchkit.http1 (one keep-alive connection per client); its own
CPU per request is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from benchkit.host import machine_summary
from benchkit.http1 import Connection
from benchkit.pyspy import record, summarize
from benchkit.stats import percentile
from taskboard.core.migrations import upgrade_to_head
from taskboard.embedded.processes import ManagedProcess
from write.load_http import API, PASSWORD, title
from write.measure import CpuMeter
from write.system import System

ROOT = Path(__file__).resolve().parent.parent

# Where a create's CPU goes, as functions on the worker's stacks (see benchkit.pyspy).
STAGES = {
    "authentication (token, session check)": r"^get_principal ",
    "idempotency (claim, remember)": r"^(claim_key|_remember) ",
    "request body: read and validate": r"^(_extract_form_body|request_body_to_args|Request\.body|"
    r"Request\.json|_get_body|get_body|_validate_value_with_model_field) ",
    "tasks.service.create": r"^create .*taskboard/tasks/service",
    "  the whole create in one statement (taskboard_create_task)": r"^create_in_one_trip ",
    "  board lock and column (SELECT ... FOR NO KEY UPDATE)": r"^lock_for_create ",
    "  column tail (SELECT max(position))": r"^column_tail(_for_create)? ",
    "  task + event (one INSERT ... WITH)": r"^append(_sql)? .*taskboard/events/log",
    "commit": r"AsyncSession\.commit",
    "publish to the Redis stream": r"^publish_committed ",
    "response: validate and serialize": r"^serialize_response ",
    "SQLAlchemy": r"/sqlalchemy/",
    "  SQLAlchemy statement compilation and cache keys": r"(_compile_w_cache|_generate_cache_key|"
    r"SQLCompiler\.__init__)",
    "asyncpg (Python layer)": r"/asyncpg/",
    "pydantic": r"/pydantic(_core)?/",
    "logging": r"/logging/__init__",
}


@dataclass
class Block:
    side: str
    mode: str
    creates: int
    seconds: float
    latencies_ms: list[float]
    cpu: dict[str, float] = field(default_factory=dict)  # component -> CPU seconds

    def per_create_ms(self, component: str) -> float:
        return self.cpu.get(component, 0.0) / self.creates * 1000

    @property
    def rate(self) -> float:
        return self.creates / self.seconds


@dataclass
class Side:
    label: str
    server: ManagedProcess
    url: str
    meter: CpuMeter
    lanes: list[Connection]
    workers: list[int]


async def sign_up(url: str) -> dict[str, str]:
    conn = Connection.to(url)
    email = f"compare-{uuid.uuid4().hex[:10]}@example.com"
    try:
        registered = await conn.post(
            f"{API}/auth/register",
            json_body={"email": email, "password": PASSWORD, "display_name": "Compare"},
        )
        registered.expect(201)
        credentials = {"email": email, "password": PASSWORD}
        login = await conn.post(f"{API}/auth/login", json_body=credentials)
        return {"Authorization": f"Bearer {login.expect(200).json()['access_token']}"}
    finally:
        await conn.close()


async def new_board(conn: Connection, name: str) -> str:
    response = await conn.post(f"{API}/boards", json_body={"name": name})
    return str(response.expect(201).json()["id"])


async def creates(
    lanes: list[Connection], boards: list[str], total: int
) -> tuple[float, list[float]]:
    """`total` creates over the lanes (one keep-alive connection each), round-robin over the
    boards; every response must be a 201."""
    counter = iter(range(total))
    latencies: list[float] = []

    async def lane(conn: Connection) -> None:
        for i in counter:
            path = f"{API}/boards/{boards[i % len(boards)]}/tasks"
            t0 = time.perf_counter()
            response = await conn.post(path, json_body={"title": title(i)})
            latencies.append((time.perf_counter() - t0) * 1000)
            response.expect(201)

    start = time.perf_counter()
    await asyncio.gather(*(lane(c) for c in lanes))
    return time.perf_counter() - start, latencies


async def run_block(side: Side, mode: str, total: int) -> Block:
    lanes = side.lanes[:1] if mode == "seq" else side.lanes
    nboards = len(lanes) if mode == "spread" else 1
    boards = [await new_board(lanes[0], f"{side.label} {mode} {n}") for n in range(nboards)]
    block = Block(side.label, mode, total, 0.0, [])
    busy: list[float] = []
    with side.meter.measure(block.cpu, busy):
        block.seconds, block.latencies_ms = await creates(lanes, boards, total)
    return block


def export_rev(rev: str, into: Path) -> Path:
    """The `services` folder of commit `rev`, exported into `into` (no checkout needed)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "services/taskboard"],
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    tar = into / "base.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as tf:
        tf.extractall(into, filter="data")
    tar.unlink()
    return into / "services"


def describe(rev: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s", rev],
        capture_output=True, text=True, check=False,
    ).stdout.strip()[:90]  # fmt: skip


def print_block(block: Block) -> None:
    print(
        f"  {block.side:<5} {block.mode:<6} {block.rate:7.1f}/s  "
        f"p50 {percentile(block.latencies_ms, 50):6.2f} ms"
        f"  CPU ms/create: api {block.per_create_ms('api'):5.2f}  postgres "
        f"{block.per_create_ms('postgres'):4.2f}  redis {block.per_create_ms('redis'):4.2f}"
        f"  loadgen {block.per_create_ms('loadgen'):4.2f}",
        flush=True,
    )


def print_summary(blocks: list[Block], sides: list[str], modes: list[str]) -> None:
    print("\nmedians over the rounds (CPU ms per create; rate per s)")
    for mode in modes:
        for side in sides:
            mine = [b for b in blocks if b.side == side and b.mode == mode]
            api = [b.per_create_ms("api") for b in mine]
            print(
                f"  {mode:<6} {side:<5} api {statistics.median(api):5.2f} "
                f"(min {min(api):.2f}, max {max(api):.2f})  postgres "
                f"{statistics.median(b.per_create_ms('postgres') for b in mine):4.2f}  loadgen "
                f"{statistics.median(b.per_create_ms('loadgen') for b in mine):4.2f}  rate "
                f"{statistics.median(b.rate for b in mine):6.1f}/s"
            )
        if len(sides) == 2:
            base = [b for b in blocks if b.side == sides[0] and b.mode == mode]
            new = [b for b in blocks if b.side == sides[1] and b.mode == mode]
            ratios = [
                n.per_create_ms("api") / b.per_create_ms("api")
                for b, n in zip(base, new, strict=True)
                if b.per_create_ms("api")
            ]
            rates = [n.rate / b.rate for b, n in zip(base, new, strict=True)]
            print(
                f"  {mode:<6} new/base: api CPU per create x{statistics.median(ratios):.3f} "
                f"(rounds {min(ratios):.3f}-{max(ratios):.3f}), rate "
                f"x{statistics.median(rates):.3f}"
            )


async def bench(system: System, sides: list[Side], args: argparse.Namespace) -> list[Block]:
    for side in sides:
        headers = await sign_up(side.url)
        side.lanes = [Connection.to(side.url, headers) for _ in range(args.concurrency)]
        warm = await new_board(side.lanes[0], "warm-up")
        await creates(side.lanes, [warm], args.warmup)
    modes = args.modes.split(",")
    blocks: list[Block] = []
    for round_no in range(args.rounds):
        order = sides if round_no % 2 == 0 else sides[::-1]
        print(f"round {round_no + 1}/{args.rounds}")
        for mode in modes:
            for side in order:
                block = await run_block(side, mode, args.block)
                blocks.append(block)
                print_block(block)
    if args.rounds:
        print_summary(blocks, [s.label for s in sides], modes)
    if args.profile:
        for side in sides:
            out = Path(args.profile)
            with record(side.workers, out, f"{side.label}-seq", rate=args.profile_rate) as paths:
                block = await run_block(side, "seq", args.profile_creates)
            print(f"\nprofile of {side.label}, {args.profile_creates} sequential creates:")
            print_block(block)
            if not paths:
                print("  (py-spy not found: pip install py-spy)")
                continue
            for line in summarize(paths, STAGES).lines():
                print("  " + line)
            print(f"  stacks: {', '.join(map(str, paths))}")
    for side in sides:
        reconnects = sum(c.connects for c in side.lanes) - len(side.lanes)
        if reconnects > 0:
            print(f"note: {side.label}'s connections reconnected {reconnects} times")
        for conn in side.lanes:
            await conn.close()
    return blocks


def write_json(path: str, blocks: list[Block]) -> None:
    figures = {
        "machine": machine_summary(),
        "blocks": [
            {
                "side": b.side,
                "mode": b.mode,
                "creates": b.creates,
                "rate_per_s": round(b.rate, 1),
                "p50_ms": round(percentile(b.latencies_ms, 50), 2),
                "cpu_ms_per_create": {k: round(b.per_create_ms(k), 3) for k in sorted(b.cpu)},
            }
            for b in blocks
        ],
    }
    Path(path).write_text(json.dumps(figures, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--base-rev", help="the baseline: this commit's services/ (git archive)")
    base.add_argument("--base", help="the baseline: a folder holding the taskboard package")
    parser.add_argument("--rounds", type=int, default=6, help="ABBA rounds (6)")
    parser.add_argument("--block", type=int, default=300, help="creates per block (300)")
    parser.add_argument("--modes", default="seq,conc", help="seq, conc, spread (seq,conc)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients in conc (16)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed creates per side (200)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers per api (1)")
    parser.add_argument("--json", help="also write every block's figures to this file")
    parser.add_argument("--profile", help="py-spy each side's worker; stacks go to this folder")
    parser.add_argument("--profile-creates", type=int, default=2000)
    parser.add_argument("--profile-rate", type=int, default=250, help="samples per second")
    args = parser.parse_args(argv)

    print(f"machine: {machine_summary()}")
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    tmp = Path(tempfile.mkdtemp(prefix="taskboard-compare-"))
    system = System(tmp, args.workers)
    try:
        base_path: str | None = args.base
        if args.base_rev:
            base_path = str(export_rev(args.base_rev, tmp / "base"))
            print(f"base: {args.base_rev} = {describe(args.base_rev)}")
        print(f"new:  the working tree {ROOT}")
        system.start_stores()
        assert system.pg is not None
        assert system.redis is not None
        upgrade_to_head(system.pg.url)
        servers = []
        if base_path is not None:
            inherited = os.environ.get("PYTHONPATH")
            pythonpath = os.pathsep.join([base_path, *([inherited] if inherited else [])])
            servers.append(("base", system.start_api_server("base", pythonpath=pythonpath)))
        system.start_api()
        assert system.api is not None
        servers.append(("new", (system.api, system.base_url)))
        system.wait_ready()
        sides = [
            Side(
                label,
                server,
                url,
                CpuMeter(
                    {
                        "loadgen": os.getpid(),
                        "api": server.pid,
                        "postgres": system.postmaster_pid(),
                        "redis": system.redis._process.pid if system.redis._process else -1,
                    }
                ),
                [],
                system.worker_pids(server),
            )
            for label, (server, url) in servers
        ]
        print(
            f"{args.workers} worker(s) per api; blocks of {args.block} creates, "
            f"{args.concurrency} clients in conc/spread; {args.rounds} rounds"
        )
        with contextlib.suppress(ImportError):
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        blocks = asyncio.run(bench(system, sides, args))
    except BaseException:
        print(f"\n--- api log tail ---\n{system.tail()}", file=sys.stderr)
        raise
    finally:
        system.stop()
    if args.json:
        write_json(args.json, blocks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
