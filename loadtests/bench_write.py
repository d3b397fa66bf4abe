"""Write-path and snapshot benchmark: the HTTP API against the raw SQL transaction it wraps.

One run brings the whole system up by itself (embedded PostgreSQL and Redis in a temp dir,
migrations, `taskboard api` as a real gunicorn server), then measures:

  a0. the HTTP floor: GET /healthz (no database, no auth) on the same client and server
  a.  sequential task creates over HTTP (one keep-alive httpx client)
  b.  concurrent task creates over HTTP (C clients on one board); b'. the same spread over C
      boards, which shows what the per-board lock costs
  c.  the create transaction straight over asyncpg, sequential (one connection) and concurrent
      (a pool of C): "lean" is the four essential statements (role check FOR UPDATE OF
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

The load generator is this one process (asyncio + httpx), so on a small machine it competes for
CPU with the API workers and PostgreSQL: the CPU figures show by how much, and "other
processes" shows CPU taken by anything outside the benchmark (a noisy run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import random
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fractional_indexing import generate_key_between

from taskboard.core.migrations import upgrade_to_head
from taskboard.embedded.servers import EmbeddedPostgres, EmbeddedRedis, free_port

API = "/api/v1"
PASSWORD = "correct horse battery staple"
TARGET_SEQ_RATIO = 0.4
TARGET_CONC_RATIO = 0.3
TARGET_SNAPSHOT_P95_MS = 150.0

ROLE_FOR_UPDATE = """
SELECT board_members.role FROM board_members
JOIN boards ON boards.id = board_members.board_id
WHERE board_members.board_id = $1 AND board_members.user_id = $2
FOR UPDATE OF boards
"""
INSERT_TASK = """
INSERT INTO tasks (id, board_id, status, position, title, description, priority, version,
                   created_by, updated_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, '', 'none', 1, $6, $6, $7, $7)
"""
BUMP_SEQ = """
UPDATE boards SET last_seq = last_seq + 1, updated_at = now() WHERE id = $1 RETURNING last_seq
"""
INSERT_EVENT = """
INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at)
VALUES ($1, $2, 'task.created', $3::jsonb, $4, $5)
"""

SELECT_COLUMNS = """
SELECT board_id, key, name, position, wip_limit, id, created_at, updated_at
FROM board_columns WHERE board_id = $1 ORDER BY position
"""
MAX_POSITION = """
SELECT max(position) FROM tasks WHERE board_id = $1 AND status = $2 AND deleted_at IS NULL
"""
INSERT_TASK_LIKE_ORM = """
INSERT INTO tasks (board_id, status, position, title, description, priority, start_at, due_at,
                   created_by, updated_by, deleted_at, version, id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING search
"""

# The seq bump and the event insert as one data-modifying CTE, as events.append sends them.
BUMP_AND_LOG = """
WITH bumped AS (
    UPDATE boards SET last_seq = last_seq + 1, updated_at = now() WHERE id = $1 RETURNING last_seq
)
INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at)
SELECT $1, bumped.last_seq, 'task.created', $2::jsonb, $3, $4 FROM bumped
RETURNING seq
"""

WORDS = [
    *("review", "deploy", "write", "draft", "migrate", "fix", "refactor", "document", "test"),
    *("plan", "release", "triage", "design", "profile", "measure", "cache", "index", "rollout"),
    *("onboarding", "budget", "invoice", "roadmap", "sync"),
]


# --------------------------------------------------------------------------- reporting helpers


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def machine() -> dict[str, str]:
    info: dict[str, str] = {"nproc": str(len(os.sched_getaffinity(0)))}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["code"] = code_version()
    info["kernel"] = platform.release()
    return info


def cpu_probe_ms() -> float:
    """A fixed pure-Python workload (best of 5): on a shared VM the host's speed drifts, and
    this tells a slow phase on a slow moment apart from a slow phase."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(100_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def code_version() -> str:
    """The commit of the taskboard package being measured, marked when it has local changes."""
    import taskboard

    repo = Path(taskboard.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "services"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return f"{repo} (not a git checkout)"
    return commit + (" + local changes" if dirty else "")


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


# --------------------------------------------------------------------------- CPU accounting

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float, float]]:
    """pid -> (ppid, own CPU seconds, CPU seconds of its reaped children) for every process."""
    table: dict[int, tuple[int, float, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        f = raw[raw.rindex(")") + 2 :].split()
        own = (int(f[11]) + int(f[12])) / _TICK
        table[int(entry)] = (int(f[1]), own, (int(f[13]) + int(f[14])) / _TICK)
    return table


def _machine_busy() -> tuple[float, float]:
    parts = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


class CpuMeter:
    """CPU seconds per component (this load generator, the API, PostgreSQL, Redis)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots

    def sample(self) -> dict[str, dict[int, float]]:
        """Per component, pid -> CPU seconds. Server processes count their reaped children
        too, so a PostgreSQL backend or pool connection that ends mid-phase is not lost."""
        table = _proc_table()
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
        before, (b0, t0) = self.sample(), _machine_busy()
        yield
        after, (b1, t1) = self.sample(), _machine_busy()
        for name in self.roots:
            # Totals, not per pid: a process that ended mid-phase moved into its parent's
            # reaped-children time, and its share from before the phase is subtracted here.
            result_cpu[name] = max(0.0, sum(after[name].values()) - sum(before[name].values()))
        ncpu = os.cpu_count() or 1
        busy.append((b1 - b0) / (t1 - t0) * ncpu if t1 > t0 else 0.0)


# --------------------------------------------------------------------------- the system


@dataclass
class System:
    tmp: Path
    workers: int
    pg: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    api: subprocess.Popen[bytes] | None = None
    api_log: Path | None = None
    base_url: str = ""

    def start_stores(self) -> None:
        self.pg = EmbeddedPostgres(self.tmp / "postgres")
        self.pg.start()
        self.redis = EmbeddedRedis(self.tmp / "redis", persistent=False)
        self.redis.start()

    def start_api(self) -> None:
        assert self.pg is not None
        assert self.redis is not None
        port = free_port()
        metrics_dir = self.tmp / "metrics"
        metrics_dir.mkdir()
        env = {
            **os.environ,
            "TASKBOARD_DATABASE_URL": self.pg.url,
            "TASKBOARD_REDIS_URL": self.redis.url,
            "TASKBOARD_SECRET_KEY": "".join(
                secrets.choice(string.ascii_letters + string.digits) for _ in range(48)
            ),
            "TASKBOARD_ENV": "production",
            "TASKBOARD_WEB_CONCURRENCY": str(self.workers),
            "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
            "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "100000",
            "TASKBOARD_LOG_LEVEL": "WARNING",
            "TASKBOARD_GRACEFUL_TIMEOUT_SECONDS": "5",
            "TASKBOARD_SECRETS_DIR": str(self.tmp / "no-secrets"),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        self.api_log = self.tmp / "api.log"
        with self.api_log.open("wb") as log:
            self.api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "taskboard.cli",
                    "api",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=self.tmp,  # no stray .env is picked up
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.base_url = f"http://127.0.0.1:{port}"

    async def wait_ready(self, within: float = 60.0) -> None:
        assert self.api is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.api.poll() is not None:
                    raise RuntimeError(f"the API exited with {self.api.returncode}:\n{self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the API was not ready in {within}s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        assert self.api is not None
        return [pid for pid, (ppid, _, _) in _proc_table().items() if ppid == self.api.pid]

    def postmaster_pid(self) -> int:
        assert self.pg is not None
        return int((self.pg.data_dir / "cluster" / "postmaster.pid").read_text().split()[0])

    def tail(self, chars: int = 3000) -> str:
        if self.api_log is None or not self.api_log.exists():
            return ""
        return self.api_log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.api is not None and self.api.poll() is None:
            self.api.terminate()  # gunicorn drains and stops its workers
            try:
                self.api.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.api.pid, signal.SIGKILL)  # the group this script created
                self.api.wait()
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.stop()
            if not self.pg.data_dir.is_relative_to(self.tmp):
                # As root the cluster lives elsewhere (see EmbeddedPostgres); remove it too.
                shutil.rmtree(self.pg.data_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- HTTP phases


def title(i: int) -> str:
    return f"{random.choice(WORDS).capitalize()} {random.choice(WORDS)} #{i}"


async def http_setup(client: httpx.AsyncClient) -> tuple[dict[str, str], uuid.UUID]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    r = await client.post(
        f"{API}/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "Bench"},
    )
    r.raise_for_status()
    user_id = uuid.UUID(r.json()["id"])
    r = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, user_id


async def new_board(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> uuid.UUID:
    r = await client.post(f"{API}/boards", json={"name": name}, headers=headers)
    r.raise_for_status()
    return uuid.UUID(r.json()["id"])


async def run_ops(
    total: int, concurrency: int, op: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run `op(i)` for i in range(total) on `concurrency` coroutines; wall time, latencies."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def lane() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def http_creates(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    boards: uuid.UUID | list[uuid.UUID],
    total: int,
    conc: int,
) -> tuple[float, list[float]]:
    urls = [f"{API}/boards/{b}/tasks" for b in (boards if isinstance(boards, list) else [boards])]

    async def op(i: int) -> None:
        r = await client.post(urls[i % len(urls)], json={"title": title(i)}, headers=headers)
        if r.status_code != 201:
            raise RuntimeError(f"create answered {r.status_code}: {r.text[:500]}")

    return await run_ops(total, conc, op)


# --------------------------------------------------------------------------- raw SQL phases


class RawWriter:
    """The create transaction over asyncpg.

    `lean` is the transaction reduced to its four essential statements (the baseline the
    targets compare against). `service` replays the statements one HTTP create sends, as
    PostgreSQL's own log showed them (the report lists them at the end: compare when the
    service changes), including the pool's pre-ping. HTTP minus `service` is what the API
    process adds (Python, HTTP, Redis publish); `service` minus `lean` is extra round trips.
    """

    def __init__(self, board: uuid.UUID, user: uuid.UUID, *, service: bool = False) -> None:
        self.board, self.user, self.service = board, user, service
        self.last_position: str | None = None

    def _event(self, task: dict[str, Any]) -> str:
        return json.dumps({"task": task}, default=str)

    async def create(self, conn: asyncpg.Connection, i: int) -> None:
        if self.service:
            await self._create_like_service(conn, i)
            return
        async with conn.transaction():
            role = await conn.fetchval(ROLE_FOR_UPDATE, self.board, self.user)
            if role is None:
                raise RuntimeError("not a member of the raw board")
            # Under the board lock, as the service does: the next position in the column.
            position = generate_key_between(self.last_position, None)
            self.last_position = position
            task_id, now, name = uuid.uuid4(), datetime.now(UTC), title(i)
            await conn.execute(
                INSERT_TASK, task_id, self.board, "todo", position, name, self.user, now
            )
            seq = await conn.fetchval(BUMP_SEQ, self.board)
            task = {
                "id": task_id, "board_id": self.board, "status": "todo", "position": position,
                "title": name, "description": "", "priority": "none", "assignee_ids": [],
                "labels": [], "start_at": None, "due_at": None, "created_by": self.user,
                "updated_by": self.user, "created_at": now.isoformat(),
                "updated_at": now.isoformat(), "deleted_at": None, "version": 1,
            }  # fmt: skip
            await conn.execute(INSERT_EVENT, self.board, seq, self._event(task), self.user, now)

    async def _create_like_service(self, conn: asyncpg.Connection, i: int) -> None:
        ping = conn.transaction()  # SQLAlchemy's pool_pre_ping on asyncpg
        await ping.start()
        await conn.fetchrow(";")
        await ping.rollback()
        async with conn.transaction():
            if await conn.fetchval(ROLE_FOR_UPDATE, self.board, self.user) is None:
                raise RuntimeError("not a member of the raw board")
            columns = await conn.fetch(SELECT_COLUMNS, self.board)
            status = columns[0]["key"]
            last = await conn.fetchval(MAX_POSITION, self.board, status)
            task_id, now, name = uuid.uuid4(), datetime.now(UTC), title(i)
            position = generate_key_between(last, None)
            await conn.fetchval(
                INSERT_TASK_LIKE_ORM, self.board, status, position, name, "", "none", None, None,
                self.user, self.user, None, 1, task_id, now, now,
            )  # fmt: skip
            task = {
                "id": task_id, "board_id": self.board, "status": status, "position": position,
                "title": name, "description": "", "priority": "none", "assignee_ids": [],
                "labels": [], "start_at": None, "due_at": None, "created_by": self.user,
                "updated_by": self.user, "created_at": now.isoformat(),
                "updated_at": now.isoformat(), "deleted_at": None, "version": 1,
            }  # fmt: skip
            await conn.fetchval(BUMP_AND_LOG, self.board, self._event(task), self.user, now)


async def raw_sequential(
    conn: asyncpg.Connection, writer: RawWriter, total: int
) -> tuple[float, list[float]]:
    return await run_ops(total, 1, lambda i: writer.create(conn, i))


async def raw_concurrent(
    pool: asyncpg.Pool, writer: RawWriter, total: int, conc: int
) -> tuple[float, list[float]]:
    async def op(i: int) -> None:
        async with pool.acquire() as conn:
            await writer.create(conn, i)

    return await run_ops(total, conc, op)


# --------------------------------------------------------------------------- snapshot board


async def fill_board(url: str, board: uuid.UUID, owner: uuid.UUID, ntasks: int) -> dict[str, int]:
    """5,000 realistic tasks in three columns, with extra members, labels and assignees."""
    rng = random.Random(7)
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        members = [owner]
        for n in range(4):
            uid = uuid.uuid4()
            await conn.execute(
                "INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)",
                uid,
                f"member{n}-{uid.hex[:8]}@example.com",
                f"Member {n}",
            )
            await conn.execute(
                "INSERT INTO board_members (board_id, user_id, role, created_at) "
                "VALUES ($1, $2, 'member', $3)",
                board,
                uid,
                now,
            )
            members.append(uid)
        labels = []
        for name, color in (("bug", "#dc2626"), ("feature", "#2563eb"), ("chore", "#6b7280")):
            lid = uuid.uuid4()
            await conn.execute(
                "INSERT INTO labels (id, board_id, name, color) VALUES ($1, $2, $3, $4)",
                lid,
                board,
                name,
                color,
            )
            labels.append(lid)
        statuses = ("todo", "in_progress", "done")
        last: dict[str, str | None] = dict.fromkeys(statuses)
        tasks, assignees, task_labels = [], [], []
        priorities = ("none", "low", "medium", "high", "urgent")
        for i in range(ntasks):
            status = statuses[i % 3]
            last[status] = generate_key_between(last[status], None)
            tid = uuid.uuid4()
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6)))
            description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 10)))
            created = now.replace(microsecond=i % 1_000_000)
            tasks.append(
                (
                    tid,
                    board,
                    status,
                    last[status],
                    f"{words.capitalize()} #{i}",
                    description,
                    rng.choice(priorities),
                    1,
                    owner,
                    owner,
                    created,
                    created,
                )
            )
            if i % 3 == 0:
                for uid in rng.sample(members, rng.randint(1, 2)):
                    assignees.append((tid, uid))
            if i % 4 == 0:
                task_labels.append((tid, rng.choice(labels)))
        await conn.copy_records_to_table(
            "tasks",
            records=tasks,
            columns=[
                "id",
                "board_id",
                "status",
                "position",
                "title",
                "description",
                "priority",
                "version",
                "created_by",
                "updated_by",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "task_assignees", records=assignees, columns=["task_id", "user_id"]
        )
        await conn.copy_records_to_table(
            "task_labels", records=task_labels, columns=["task_id", "label_id"]
        )
        # A new seq (with its event, so the log stays gap-free): no snapshot cached before the
        # fill can be served after it.
        seq = await conn.fetchval(BUMP_SEQ, board)
        await conn.execute(
            "INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at) "
            "VALUES ($1, $2, 'board.updated', '{}'::jsonb, $3, now())",
            board, seq, owner,
        )  # fmt: skip
        await conn.execute("ANALYZE")
        return {"tasks": len(tasks), "assignments": len(assignees), "labelled": len(task_labels)}
    finally:
        await conn.close()


async def snapshots(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    board: uuid.UUID,
    count: int,
    *,
    write_before: bool,
) -> tuple[float, list[float], int, int]:
    """Time `count` GETs of the snapshot. With `write_before`, an untimed task create precedes
    each GET, so every GET is the first read of a new seq (the API caches by board and seq)."""
    sizes: list[int] = []
    latencies: list[float] = []
    ntasks = 0
    for i in range(count):
        if write_before:
            await http_creates(client, headers, board, 1, 1)
        t0 = time.perf_counter()
        r = await client.get(f"{API}/boards/{board}", headers=headers)
        latencies.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
        sizes.append(len(r.content))
        if i == 0:
            ntasks = len(r.json()["tasks"])
    return sum(latencies) / 1000, latencies, max(sizes), ntasks


# --------------------------------------------------------------------------- statement trace


async def trace_one_create(
    system: System, client: httpx.AsyncClient, headers: dict[str, str], board: uuid.UUID
) -> list[str]:
    """The SQL statements one HTTP create runs, from PostgreSQL's own statement log."""
    assert system.pg is not None
    log = system.pg.data_dir / "postgres.log"
    conn = await asyncpg.connect(system.pg.url)
    try:
        await conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        await conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.3)
        start = log.stat().st_size
        await client.post(f"{API}/boards/{board}/tasks", json={"title": "traced"}, headers=headers)
        await asyncio.sleep(0.3)
        await conn.execute("ALTER SYSTEM RESET log_statement")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    records: list[str] = []
    for line in text.splitlines():
        if line[:4].isdigit() and line[4:5] == "-":
            records.append(line)
        elif records:
            records[-1] += " " + line  # a statement's continuation lines
    statements = []
    for record in records:
        if "LOG:  " not in record:
            continue
        sql = record.split("LOG:  ", 1)[1]
        if not sql.startswith(("statement: ", "execute ")):
            continue
        sql = sql.split(": ", 1)[1]
        if "pg_reload_conf" in sql or "ALTER SYSTEM" in sql:
            continue
        statements.append(" ".join(sql.split()))
    return statements


def connections_since(log: Path, offset: int) -> int:
    with log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().count(b"connection received:")


# --------------------------------------------------------------------------- profiling


@contextlib.contextmanager
def profiled(pids: list[int], out_dir: Path | None, label: str) -> Iterator[None]:
    """py-spy on each API worker for the duration of the block (when --profile is given)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if out_dir is None or not Path(spy).exists():
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--nonblocking",
                "--rate",
                "250",
                "--output",
                str(out_dir / f"{label}-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]
    time.sleep(1.0)  # let py-spy attach
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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


async def bench(system: System, args: argparse.Namespace) -> dict[str, Any]:
    assert system.pg is not None
    assert system.redis is not None
    assert system.api is not None
    url = system.pg.url
    await system.wait_ready()
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
    pg_log = system.pg.data_dir / "postgres.log"
    print(f"postgres {pg_version}; api at {system.base_url}, gunicorn workers {workers}")
    profile_dir = Path(args.profile) if args.profile else None

    results: dict[str, Result] = {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=system.base_url, timeout=60, limits=limits) as client:
        headers, user_id = await http_setup(client)
        warm = await new_board(client, headers, "warm-up")
        # Warm every worker's pool, prepared statements and code paths.
        await http_creates(client, headers, warm, args.warmup, min(args.concurrency, 8))
        statements = await trace_one_create(system, client, headers, warm)

        async def phase(
            name: str,
            run: Callable[[], Awaitable[tuple[float, list[float]]]],
            ops: int,
            profile_label: str | None = None,
        ) -> Result:
            result = Result(name, ops, 0.0, [])
            busy: list[float] = []
            label = profile_label if profile_label else ""
            result.extra["cpu_probe_ms"] = round(cpu_probe_ms(), 2)
            log_start = pg_log.stat().st_size
            with (
                profiled(workers, profile_dir if profile_label else None, label),
                meter.measure(result.cpu, busy),
            ):
                result.seconds, result.latencies_ms = await run()
            result.busy = busy[0]
            result.extra["pg_connections_opened"] = connections_since(pg_log, log_start)
            print(result.line())
            print(result.cpu_line(), flush=True)
            return result

        async def healthz(_: int) -> None:
            (await client.get("/healthz")).raise_for_status()

        results["http_floor"] = await phase(
            "a0. HTTP floor: GET /healthz, sequential",
            lambda: run_ops(args.tasks, 1, healthz),
            args.tasks,
        )
        board_seq = await new_board(client, headers, "http sequential")
        results["http_seq"] = await phase(
            "a. HTTP create, sequential",
            lambda: http_creates(client, headers, board_seq, args.tasks, 1),
            args.tasks,
            "http-seq",
        )
        board_conc = await new_board(client, headers, "http concurrent")
        results["http_conc"] = await phase(
            f"b. HTTP create, {args.concurrency} concurrent",
            lambda: http_creates(
                client, headers, board_conc, args.concurrent_tasks, args.concurrency
            ),
            args.concurrent_tasks,
            "http-conc",
        )
        boards = [await new_board(client, headers, f"spread {n}") for n in range(args.concurrency)]
        results["http_spread"] = await phase(
            f"b'. HTTP create, {args.concurrency} conc., {len(boards)} boards",
            lambda: http_creates(client, headers, boards, args.concurrent_tasks, args.concurrency),
            args.concurrent_tasks,
        )

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
                results[f"{key}_seq"] = await phase(
                    f"c. raw SQL {kind}, sequential",
                    functools.partial(raw_sequential, conn, writer, args.tasks),
                    args.tasks,
                )
                board = await new_board(client, headers, f"raw {kind} concurrent")
                writer = RawWriter(board, user_id, service=service)
                results[f"{key}_conc"] = await phase(
                    f"c. raw SQL {kind}, {args.concurrency} concurrent",
                    functools.partial(
                        raw_concurrent, pool, writer, args.concurrent_tasks, args.concurrency
                    ),
                    args.concurrent_tasks,
                )
        finally:
            await pool.close()
            await conn.close()

        snap_board = await new_board(client, headers, "snapshot")
        filled = await fill_board(url, snap_board, user_id, args.snapshot_tasks)
        await snapshots(client, headers, snap_board, 3, write_before=True)  # warm-up
        for key, cold, label in (
            ("snapshot_miss", True, "first GET after a write"),
            ("snapshot_hit", False, "cached seq"),
        ):
            snap = Result(
                f"d. GET snapshot, {label}", args.snapshot_gets, 0.0, [], extra=dict(filled)
            )
            snap.extra["cpu_probe_ms"] = round(cpu_probe_ms(), 2)
            busy: list[float] = []
            with (
                profiled(workers, profile_dir, key),
                meter.measure(snap.cpu, busy),
            ):
                wall, lat, size, ntasks = await snapshots(
                    client, headers, snap_board, args.snapshot_gets, write_before=cold
                )
            snap.seconds, snap.latencies_ms, snap.busy = wall, lat, busy[0]
            snap.extra.update(response_bytes=size, tasks_in_response=ntasks)
            results[key] = snap
            print(snap.line())
            print(snap.cpu_line() + (" (CPU includes the untimed create)" if cold else ""))
        print(
            f"{'':<40} response {size / 1024:.0f} KiB, {ntasks} tasks, "
            f"{filled['assignments']} assignments, {filled['labelled']} labelled"
        )

    seq_ratio = results["http_seq"].rate / results["raw_seq"].rate
    conc_ratio = results["http_conc"].rate / results["raw_conc"].rate
    miss_p95, hit_p95 = results["snapshot_miss"].p(95), results["snapshot_hit"].p(95)
    verdicts = {
        "sequential_ratio": (seq_ratio, TARGET_SEQ_RATIO, seq_ratio >= TARGET_SEQ_RATIO),
        "concurrent_ratio": (conc_ratio, TARGET_CONC_RATIO, conc_ratio >= TARGET_CONC_RATIO),
        "snapshot_miss_p95_ms": (
            miss_p95,
            TARGET_SNAPSHOT_P95_MS,
            miss_p95 <= TARGET_SNAPSHOT_P95_MS,
        ),
        "snapshot_hit_p95_ms": (hit_p95, TARGET_SNAPSHOT_P95_MS, hit_p95 <= TARGET_SNAPSHOT_P95_MS),
    }

    def verdict(key: str) -> str:
        return "PASS" if verdicts[key][2] else "MISS"

    print("\ntargets")
    print(
        f"  sequential HTTP / raw = {seq_ratio:.3f}   target >= {TARGET_SEQ_RATIO}   "
        f"{verdict('sequential_ratio')}"
    )
    print(
        f"  concurrent HTTP / raw = {conc_ratio:.3f}   target >= {TARGET_CONC_RATIO}   "
        f"{verdict('concurrent_ratio')}"
    )
    for key, label in (("snapshot_miss_p95_ms", "first GET after a write"),
                       ("snapshot_hit_p95_ms", "cached seq")):  # fmt: skip
        print(
            f"  snapshot p95 ({label}) = {verdicts[key][0]:.1f} ms   "
            f"target <= {TARGET_SNAPSHOT_P95_MS:.0f} ms   {verdict(key)}"
        )
    print(f"\nSQL statements one HTTP create runs ({len(statements)}):")
    for sql in statements:
        print(f"  {sql[:110]}")
    return {
        "postgres": pg_version,
        "results": {k: v.as_dict() for k, v in results.items()},
        "targets": {
            k: {"value": round(v, 3), "target": t, "pass": ok} for k, (v, t, ok) in verdicts.items()
        },
        "create_statements": statements,
    }


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
    args = parser.parse_args(argv)
    sizes(args)
    if args.profile:
        args.profile = str(Path(args.profile).resolve())

    info = machine()
    b0, t0 = _machine_busy()
    time.sleep(1.0)
    b1, t1 = _machine_busy()
    info["busy_before_start"] = f"{(b1 - b0) / (t1 - t0) * (os.cpu_count() or 1):.2f} cores"
    info["cpu_probe"] = f"{cpu_probe_ms():.1f} ms"
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(
        f"sizes: sequential {args.tasks}, concurrent {args.concurrent_tasks} on "
        f"{args.concurrency} clients, snapshot {args.snapshot_tasks} tasks x "
        f"{args.snapshot_gets} GETs, {args.workers} API workers",
        flush=True,
    )

    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    system = System(Path(tempfile.mkdtemp(prefix="taskboard-bench-")), args.workers)
    try:
        system.start_stores()
        assert system.pg is not None
        upgrade_to_head(system.pg.url)  # runs its own event loop: before ours starts
        system.start_api()
        if not args.no_uvloop:
            with contextlib.suppress(ImportError):
                import uvloop

                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        report = asyncio.run(bench(system, args))
    except BaseException:
        tail = system.tail()
        if tail:
            print(f"\n--- api log tail ---\n{tail}", file=sys.stderr)
        raise
    finally:
        system.stop()
    if args.json:
        report.update(machine=info, args=vars(args))
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
