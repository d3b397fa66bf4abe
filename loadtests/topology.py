#!/usr/bin/env python3
"""A local multi-pod topology to aim Locust at: on a laptop, what the chart runs on a cluster.

    make loadtest                                        # 2 api, 2 realtime, Locust for 1 minute
    make loadtest ARGS="--api 3 --realtime 2 --users 50 --spawn-rate 5 --run-time 5m"
    .venv/bin/python loadtests/topology.py --keep-running   # no Locust: aim your own at the URL

It starts embedded PostgreSQL and Redis, runs the migrations, then N `taskboard api` processes
(one gunicorn worker each), M `taskboard realtime` processes (each its own pod name) and one
`taskboard worker`, and serves them on ONE port through a small proxy in this process: /ws
goes to the realtime processes, everything else to the api processes, round-robin per client
connection (a keep-alive connection stays on the pod it was given, as behind a Kubernetes
Service). Then Locust runs headless against that port. The CSV and HTML reports, each process's
log, the machine and the CPU each process spent during the run are left in
loadtests/reports/<timestamp>/ (gitignored). Arguments this script does not know go to Locust.
Ctrl-C (or SIGTERM) stops Locust, which still writes its reports, then every process (SIGTERM,
then SIGKILL past a timeout); the processes also die with this one if it is killed outright.

LOAD TESTS ONLY: password hashing at its cheapest (TASKBOARD_PASSWORD_HASH_TIME_COST=1,
TASKBOARD_PASSWORD_HASH_MEMORY_KIB=64) and the sign-in and socket limits lifted, so that sign-ins
measure the product rather than Argon2. Never use these settings for anything else.
TASKBOARD_* variables in the environment override them (not the database and Redis URLs).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from benchkit.host import machine_summary, proc_table
from taskboard.embedded.processes import (
    ManagedProcess,
    ProcessFailed,
    free_port,
    http_ok,
    stop_all,
    taskboard_command,
    wait_all_ready,
)
from taskboard.embedded.servers import EmbeddedPostgres, EmbeddedRedis, EmbeddedServerError

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "loadtests" / "reports"
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
LOCALHOST = "127.0.0.1"

# =============================================================================== the proxy

Address = tuple[str, int]

HEAD_LIMIT = 64 * 1024  # request and response heads; a larger one is refused (431) or dropped
CHUNK = 64 * 1024
CHUNKED = -1  # body framings besides a byte count
UNTIL_CLOSE = -2


class ProxyError(Exception):
    """A malformed or truncated request or response: its connection is closed."""


class HeadTooLarge(ProxyError):
    """A head past HEAD_LIMIT: a request gets 431, a response closes the connection."""


@dataclass
class Head:
    raw: bytes  # as received, forwarded unchanged
    first: list[bytes]  # the request or status line, split in (at most) three
    headers: dict[bytes, bytes]  # lower-case names; repeated ones joined with ", "

    def tokens(self, name: bytes) -> set[bytes]:
        return {t.strip().lower() for t in self.headers.get(name, b"").split(b",") if t.strip()}


def parse_head(raw: bytes) -> Head:
    lines = raw[:-4].split(b"\r\n")
    first = lines[0].split(b" ", 2)
    if len(first) < 2 or not first[0]:
        raise ProxyError(f"bad first line {lines[0][:80]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProxyError(f"bad header line {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = headers[key] + b", " + value if key in headers else value
    return Head(raw, first, headers)


def _length(head: Head) -> int | None:
    if b"transfer-encoding" in head.headers:
        codings = [t.strip().lower() for t in head.headers[b"transfer-encoding"].split(b",")]
        if codings[-1] != b"chunked":
            raise ProxyError("a transfer coding other than chunked last")
        return CHUNKED
    if b"content-length" in head.headers:
        values = {v.strip() for v in head.headers[b"content-length"].split(b",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise ProxyError("a bad Content-Length")
        return int(values.pop())
    return None


def request_length(head: Head) -> int:
    return _length(head) or 0


def response_length(method: bytes, status: int, head: Head) -> int:
    if method == b"HEAD" or status in (204, 304) or 100 <= status < 200:
        return 0
    length = _length(head)
    return UNTIL_CLOSE if length is None else length


def wants_upgrade(head: Head) -> bool:
    return b"upgrade" in head.headers and b"upgrade" in head.tokens(b"connection")


def route(target: bytes) -> str:
    """The pool a request goes to: the realtime pods serve the socket, the api pods the rest."""
    path = target.split(b"?", 1)[0]
    return "realtime" if path == b"/ws" or path.startswith(b"/ws/") else "api"


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """One head, through its blank line; None when the peer closed cleanly before one began."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProxyError("closed mid-head") from None
        return None
    except asyncio.LimitOverrunError:
        raise HeadTooLarge from None


async def copy_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int
) -> None:
    """Forward one body as it arrives, a read at a time: nothing waits for the whole of it."""
    if length == CHUNKED:
        await _copy_chunked(reader, writer)
    elif length == UNTIL_CLOSE:
        await copy_until_eof(reader, writer)
    else:
        await _copy_exact(reader, writer, length)


async def _copy_exact(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
    while n:
        data = await reader.read(min(n, CHUNK))
        if not data:
            raise ProxyError("closed mid-body")
        writer.write(data)
        n -= len(data)
        await writer.drain()


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise ProxyError("a bad or truncated chunk") from None


async def _copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        line = await _line(reader)
        writer.write(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProxyError(f"a bad chunk size {line[:40]!r}") from None
        if size == 0:
            break
        await _copy_exact(reader, writer, size + 2)  # the data and its CRLF
    while True:  # trailers, through the blank line
        line = await _line(reader)
        writer.write(line)
        if line == b"\r\n":
            break
    await writer.drain()


async def copy_until_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()


def _error_response(status: str) -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()


@dataclass
class _Expected:
    method: bytes
    upgrade: asyncio.Future[bool] | None  # an upgrade request: True once 101 was relayed


class _Upstream:
    """The connection to one pod that a client connection uses now, and the task relaying its
    responses (in order: HTTP/1.1 answers requests in the order they were sent)."""

    def __init__(
        self, pool: str, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.pool = pool
        self.index = index
        self.reader = reader
        self.writer = writer
        self.expected: collections.deque[_Expected] = collections.deque()
        self.idle = asyncio.Event()
        self.idle.set()
        self.retiring = False  # closed by us to switch pools: the client connection stays
        self.done = False
        self.pump: asyncio.Task[None] | None = None

    def expect(self, method: bytes, upgrade: bool) -> asyncio.Future[bool] | None:
        decided = asyncio.get_running_loop().create_future() if upgrade else None
        self.expected.append(_Expected(method, decided))
        self.idle.clear()
        return decided

    def answered(self) -> None:
        self.expected.popleft()
        if not self.expected:
            self.idle.set()


class _Connection:
    """One client connection: its requests go, each as it arrives, to the upstream of its
    route's pool (opened round-robin, kept while requests stay in that pool)."""

    def __init__(
        self, proxy: Proxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.upstream: _Upstream | None = None
        self.task: asyncio.Task[Any] | None = None
        self.closed = False

    async def run(self) -> None:
        while True:
            try:
                raw = await read_head(self.reader)
            except HeadTooLarge:
                self._refuse("431 Request Header Fields Too Large")
                return
            if raw is None:
                break
            try:
                head = parse_head(raw)
                length = request_length(head)
            except ProxyError:
                self._refuse("400 Bad Request")
                return
            upgrade = wants_upgrade(head)
            upstream = await self._upstream_for(route(head.first[1]))
            if upstream is None:
                self._refuse("502 Bad Gateway")
                return
            decided = upstream.expect(head.first[0].upper(), upgrade)
            upstream.writer.write(raw)
            await copy_body(self.reader, upstream.writer, length)
            if decided is not None and await decided:
                # A WebSocket now: bytes both ways as they come until either side closes.
                await copy_until_eof(self.reader, upstream.writer)
                return
        # The client closed (or half-closed) its side: answers still owed are relayed first.
        if self.upstream is not None and not self.upstream.done:
            await self.upstream.idle.wait()

    def _refuse(self, status: str) -> None:
        """An error answer, where no answer from a pod is still owed before it."""
        if self.upstream is None or self.upstream.idle.is_set():
            self.writer.write(_error_response(status))

    async def _upstream_for(self, pool: str) -> _Upstream | None:
        current = self.upstream
        if current is not None and current.pool == pool and not current.done:
            return current
        if current is not None:
            # Another pool: the answers owed by this one come first, then it is let go.
            await current.idle.wait()
            current.retiring = True
            current.writer.close()
            self.upstream = None
        opened = await self.proxy.open(pool)
        if opened is None:
            return None
        index, reader, writer = opened
        upstream = _Upstream(pool, index, reader, writer)
        upstream.pump = asyncio.create_task(self._relay(upstream))
        self.upstream = upstream
        return upstream

    async def _relay(self, upstream: _Upstream) -> None:
        """Relay the pod's responses; when the pod closes, the client connection closes too."""
        try:
            while True:
                raw = await read_head(upstream.reader)
                if raw is None or not upstream.expected:
                    return  # closed, or spoke unasked (a timeout notice): close the client
                head = parse_head(raw)
                try:
                    status = int(head.first[1])
                except ValueError:
                    raise ProxyError(f"a bad status line {head.first!r}") from None
                self.writer.write(raw)
                expected = upstream.expected[0]
                if status == 101 and expected.upgrade is not None:
                    expected.upgrade.set_result(True)
                    await copy_until_eof(upstream.reader, self.writer)
                    return
                if 100 <= status < 200:
                    continue  # 100 Continue, 103 Early Hints: the final answer follows
                if expected.upgrade is not None:
                    expected.upgrade.set_result(False)
                length = response_length(expected.method, status, head)
                await copy_body(upstream.reader, self.writer, length)
                upstream.answered()
                if length == UNTIL_CLOSE or b"close" in head.tokens(b"connection"):
                    return
        except (ProxyError, OSError):
            pass
        finally:
            upstream.done = True
            upstream.idle.set()  # nothing more will be answered: whoever waits goes on
            for expected in upstream.expected:
                if expected.upgrade is not None and not expected.upgrade.done():
                    expected.upgrade.set_result(False)
            if not upstream.retiring:
                self.close()

    def close(self) -> None:
        """Both sides at once, whichever closed first; safe to call again."""
        if self.closed:
            return
        self.closed = True
        self.writer.close()
        upstream = self.upstream
        if upstream is not None:
            upstream.writer.close()
            if upstream.pump is not None and upstream.pump is not asyncio.current_task():
                upstream.pump.cancel()
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


@dataclass
class Proxy:
    """One port in front of the pods: /ws to `realtime`, everything else to `api`.

    Requests are forwarded as they arrive, heads and bodies unchanged; after a WebSocket
    upgrade the bytes go both ways as they come. `opened[pool][i]` counts the connections
    made to that pool's i-th pod.
    """

    api: Sequence[Address]
    realtime: Sequence[Address]
    host: str = LOCALHOST
    port: int = 0
    opened: dict[str, list[int]] = field(init=False)
    _next: dict[str, int] = field(init=False)
    _server: asyncio.Server | None = field(init=False, default=None)
    _connections: set[_Connection] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.opened = {"api": [0] * len(self.api), "realtime": [0] * len(self.realtime)}
        self._next = {"api": 0, "realtime": 0}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=HEAD_LIMIT, backlog=1024
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def open(
        self, pool: str
    ) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the pool's next pod; a pod that refuses is skipped (restarting)."""
        addresses = self.api if pool == "api" else self.realtime
        for _ in addresses:
            index = self._next[pool]
            self._next[pool] = (index + 1) % len(addresses)
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection(*addresses[index], limit=HEAD_LIMIT)
                self.opened[pool][index] += 1
                return index, reader, writer
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        connection.task = asyncio.current_task()
        self._connections.add(connection)
        try:
            await connection.run()
        except (asyncio.CancelledError, ProxyError, OSError):
            pass  # closed from the other side (or by close()): nothing owed to anyone
        finally:
            connection.close()
            self._connections.discard(connection)


# ============================================================================ the pods


def load_test_settings(proxy_port: int, log_level: str) -> dict[str, str]:
    """What every pod shares, before the environment's own TASKBOARD_* variables."""
    return {
        "TASKBOARD_SECRET_KEY": secrets.token_urlsafe(48),
        "TASKBOARD_WEB_CONCURRENCY": "1",  # one process per api pod: scale with --api
        # Load tests only (see the module's docstring): the cheapest hashing, no sign-in limits.
        "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
        "TASKBOARD_PASSWORD_HASH_MEMORY_KIB": "64",
        "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "1000000",
        "TASKBOARD_RATE_LIMIT_AUTH_PER_ACCOUNT": "1000000",
        "TASKBOARD_WS_MAX_SOCKETS_PER_USER": "100000",
        "TASKBOARD_COOKIE_SECURE": "false",  # plain http on 127.0.0.1, browsers included
        "TASKBOARD_PUBLIC_URL": f"http://{LOCALHOST}:{proxy_port}",
        "TASKBOARD_METRICS_PORT": "0",  # each pod's /metrics on its own port: no clash at 9100
        "TASKBOARD_LOG_LEVEL": log_level,
        "TASKBOARD_GRACEFUL_TIMEOUT_SECONDS": "10",
        "TASKBOARD_WORKER_SHUTDOWN_TIMEOUT_SECONDS": "5",
    }


# Each pod (and Locust) dies with this process even when it is SIGKILLed, so no orphan keeps
# its port or its load: the kernel sends it SIGINT, which each of them takes as a stop.
_TIED = (
    "import os, sys\n"
    "from taskboard.embedded.common import tie_to_parent\n"
    "tie_to_parent()\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"  # the parent was gone already
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
)


def tied_to_this_process() -> list[str]:
    """The start of a Python command line whose process gets SIGINT when this one ends."""
    return [sys.executable, "-c", _TIED, str(os.getpid())]


@dataclass
class Pod:
    kind: str
    name: str
    port: int
    log: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"


class Topology:
    """Embedded PostgreSQL and Redis, the migrations, then the pods, until stop()."""

    def __init__(
        self, *, api: int, realtime: int, run_dir: Path, proxy_port: int, log_level: str
    ) -> None:
        self.api_count = api
        self.realtime_count = realtime
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.proxy_port = proxy_port
        self.log_level = log_level
        self.pods: list[Pod] = []
        self.data = Path(tempfile.mkdtemp(prefix="taskboard-topology-"))
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None

    def env(self) -> dict[str, str]:
        assert self.postgres is not None
        assert self.redis is not None
        own = {k: v for k, v in os.environ.items() if k.startswith("TASKBOARD_")}
        inherited = dict(os.environ)
        # Each api pod's gunicorn makes its own; a shared one would merge every pod's figures.
        inherited.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return {
            **inherited,
            **load_test_settings(self.proxy_port, self.log_level),
            **own,
            "TASKBOARD_DATABASE_URL": self.postgres.url,
            "TASKBOARD_REDIS_URL": self.redis.url,
            "TASKBOARD_STORAGE_URL": (self.data / "files").as_uri(),
        }

    def start(self, say: Callable[[str], None] = print) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        say("starting PostgreSQL and Redis")
        self.postgres = EmbeddedPostgres(self.data / "postgres", durable=False)
        self.postgres.start()
        self.redis = EmbeddedRedis(self.data / "redis", persistent=False)
        self.redis.start()
        env = self.env()
        say("migrating")
        with (self.logs / "migrate.log").open("wb") as output:
            subprocess.run(
                taskboard_command("migrate"), env=env, stdout=output, stderr=output, check=True
            )
        kinds = [("api", f"api-{i}") for i in range(1, self.api_count + 1)]
        kinds += [("realtime", f"realtime-{i}") for i in range(1, self.realtime_count + 1)]
        kinds.append(("worker", "worker"))
        say(f"starting {len(kinds)} processes")
        for kind, name in kinds:
            port = free_port()
            log = self.logs / f"{name}.log"
            command = tied_to_this_process() + taskboard_command(kind, "--port", str(port))[1:]
            process = ManagedProcess(
                command,
                name=name,
                env={**env, "TASKBOARD_POD_NAME": name},
                stdout=log,
                stderr=log,
                ready=http_ok(f"http://{LOCALHOST}:{port}/readyz"),
                ready_timeout=120,
                stop_timeout=30,
            )
            self.pods.append(Pod(kind, name, port, log, process.start()))
        wait_all_ready([pod.process for pod in self.pods])

    def of(self, kind: str) -> list[Pod]:
        return [pod for pod in self.pods if pod.kind == kind]

    def describe(self, proxy_url: str) -> dict[str, Any]:
        """What topology.json holds: where everything listens, and each process id."""
        return {
            "url": proxy_url,
            "ws": proxy_url.replace("http://", "ws://", 1) + "/ws",
            "pid": os.getpid(),  # this script, the proxy with it
            "pods": [
                {"kind": p.kind, "name": p.name, "port": p.port, "pid": p.process.pid}
                for p in self.pods
            ],
            "postgres_port": self.postgres.port if self.postgres else None,
            "redis_port": self.redis.port if self.redis else None,
            "run_dir": str(self.run_dir),
            # What stop() removes; left behind only if this process is killed outright.
            "data_dirs": [
                str(self.data),
                *([str(self.postgres.data_dir)] if self.postgres else []),
            ],
        }

    def stop(self) -> None:
        """SIGTERM to every pod at once, SIGKILL past the timeout, then Redis, PostgreSQL."""
        stop_all([pod.process for pod in self.pods], timeout=30)
        if self.redis is not None:
            self.redis.stop()
            _keep(self.redis.data_dir / "redis.log", self.logs / "redis.log")
        if self.postgres is not None:
            self.postgres.stop()
            _keep(self.postgres.data_dir / "postgres.log", self.logs / "postgres.log")
            self.postgres.stop(remove_data=True)
        shutil.rmtree(self.data, ignore_errors=True)


def _keep(log: Path, to: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.copyfile(log, to)


# ============================================================================ CPU shares


def subtree_cpu() -> dict[int, float]:
    """CPU seconds of each child of this process with everything under it (gunicorn's
    workers, PostgreSQL's backends), own and reaped."""
    table = proc_table()
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)

    def total(pid: int) -> float:
        _, own, reaped = table[pid]
        return own + reaped + sum(total(child) for child in children[pid])

    return {pid: total(pid) for pid in children[os.getpid()]}


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def reaped_cpu() -> float:
    """Of children that ended (Locust, once it exits)."""
    times = os.times()
    return times.children_user + times.children_system


def cpu_report(topology: Topology, before: dict[int, float], after: dict[int, float]) -> str:
    names = {pod.process.pid: pod.name for pod in topology.pods}
    spent = {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}
    return "\n".join(
        f"  {names.get(pid) or _comm(pid):<14} {seconds:8.2f} s"
        for pid, seconds in sorted(spent.items(), key=lambda item: -item[1])
    )


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)


# ============================================================================ the run


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # an abbreviation must never swallow one of Locust's options
    )
    parser.add_argument("--api", type=int, default=2, help="api processes (default 2)")
    parser.add_argument("--realtime", type=int, default=2, help="realtime processes (default 2)")
    parser.add_argument("--users", type=int, default=10, help="Locust users (default 10)")
    parser.add_argument("--spawn-rate", type=float, default=2, help="users started per second")
    parser.add_argument("--run-time", default="1m", help="Locust's -t (default 1m)")
    parser.add_argument("--locustfile", type=Path, default=LOCUSTFILE)
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="start the topology, print its URL and wait for Ctrl-C: no Locust",
    )
    parser.add_argument("--port", type=int, default=0, help="the proxy's port (default: free)")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="where run folders go")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the pods' (INFO logs every request, at a CPU cost)",
    )
    args, locust_args = parser.parse_known_args(argv)
    if args.api < 1 or args.realtime < 1:
        parser.error("--api and --realtime need at least 1")
    if not args.keep_running and not args.locustfile.is_file():
        parser.error(f"no locustfile at {args.locustfile} (give --locustfile, or --keep-running)")
    return args, locust_args


def new_run_dir(reports: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", *(f"-{i}" for i in range(2, 100))):
        run_dir = reports / f"{stamp}{suffix}"
        with contextlib.suppress(FileExistsError):
            run_dir.mkdir(parents=True)
            return run_dir
    raise RuntimeError(f"no free run folder under {reports}")


def locust_command(
    args: argparse.Namespace, locust_args: Sequence[str], url: str, run_dir: Path
) -> list[str]:
    return [
        *tied_to_this_process(),
        # As the `locust` command runs: the working folder not on sys.path (a folder named
        # locust there would shadow Locust itself).
        "-P",
        "-m",
        "locust",
        "-f",
        str(args.locustfile),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        f"{args.spawn_rate:g}",
        "-t",
        args.run_time,
        "--host",
        url,
        "--csv",
        str(run_dir / "run"),
        "--html",
        str(run_dir / "report.html"),
        *locust_args,
    ]


class _Interrupted(Exception):
    pass


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(signal.Signals(signum).name)


async def serve(
    topology: Topology, args: argparse.Namespace, locust_args: Sequence[str], run_dir: Path
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stops = 0

    def on_signal() -> None:
        nonlocal stops
        stops += 1
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    proxy = await Proxy(
        [(LOCALHOST, p.port) for p in topology.of("api")],
        [(LOCALHOST, p.port) for p in topology.of("realtime")],
        port=topology.proxy_port,
    ).start()
    try:
        described = topology.describe(proxy.url)
        (run_dir / "topology.json").write_text(json.dumps(described, indent=2) + "\n")
        print(banner(topology, proxy.url, run_dir), flush=True)
        if args.keep_running:
            print("running until Ctrl-C", flush=True)
            await stop.wait()
            return 0
        before, proxy_before, reaped_before = subtree_cpu(), own_cpu(), reaped_cpu()
        code = await run_locust(
            locust_command(args, locust_args, proxy.url, run_dir),
            run_dir / "logs" / "locust.log",
            stop,
            lambda: stops,
        )
        after, proxy_after, reaped_after = subtree_cpu(), own_cpu(), reaped_cpu()
        spread = ", ".join(
            f"{pool} {'/'.join(map(str, counts))}" for pool, counts in proxy.opened.items()
        )
        summary = (
            f"machine: {machine_summary()}\n"
            f"locust exit code: {code}\n"
            f"proxy connections per pod: {spread}\n"
            f"CPU during the Locust run:\n"
            f"  {'proxy':<14} {proxy_after - proxy_before:8.2f} s\n"
            f"  {'locust':<14} {reaped_after - reaped_before:8.2f} s\n"
            f"{cpu_report(topology, before, after)}\n"
        )
        (run_dir / "summary.txt").write_text(summary)
        print(f"\n{summary}reports: {run_dir}", flush=True)
        return code
    finally:
        await proxy.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def run_locust(
    command: list[str], log: Path, stop: asyncio.Event, stops: Callable[[], int]
) -> int:
    """Locust in a session of its own, its output shown and kept. A stop request reaches it
    as SIGINT, on which it still writes its CSV and HTML reports (on SIGTERM it skips the
    HTML); a second one, or 60 s more, kills it."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None

    async def tee() -> None:
        assert process.stdout is not None
        with log.open("wb") as file:
            while line := await process.stdout.readline():
                file.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()

    copying = asyncio.create_task(tee())
    waiting = asyncio.create_task(process.wait())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        print("\nstopping Locust (it writes its reports first)", flush=True)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 60
        while not waiting.done() and stops() < 2 and time.monotonic() < deadline:
            await asyncio.wait([waiting], timeout=0.2)
        if not waiting.done():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    stopping.cancel()
    code = await waiting
    await copying
    return 130 if stop.is_set() and code == 0 else code


def banner(topology: Topology, url: str, run_dir: Path) -> str:
    def ports(kind: str) -> str:
        return "  ".join(f"{p.name} :{p.port}" for p in topology.of(kind))

    return (
        f"\ntaskboard topology: {url}  (WebSocket {url.replace('http', 'ws', 1)}/ws)\n"
        f"  api       {ports('api')}\n"
        f"  realtime  {ports('realtime')}\n"
        f"  worker    {ports('worker')}\n"
        f"  logs and reports: {run_dir}\n"
    )


def _event_loop() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop  # the proxy's CPU is taken from the pods it measures: the leaner loop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """While the topology stops: a second Ctrl-C must not leave PostgreSQL's data behind
    (every stop is bounded by its own timeout)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args, locust_args = parse_args(argv)
    # platformdirs' note when the embedded servers load, on machines without a login session.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    run_dir = new_run_dir(args.reports)
    topology = Topology(
        api=args.api,
        realtime=args.realtime,
        run_dir=run_dir,
        proxy_port=args.port or free_port(),
        log_level=args.log_level,
    )
    (run_dir / "machine.txt").write_text(machine_summary() + "\n")
    # SIGTERM unwinds the blocking start like Ctrl-C does, through every cleanup (while the
    # proxy serves, its event loop takes both signals instead).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            topology.start()
        except (ProcessFailed, EmbeddedServerError, subprocess.CalledProcessError) as exc:
            print(f"the topology did not start: {exc}\nlogs: {run_dir / 'logs'}", flush=True)
            return 1
        with asyncio.Runner(loop_factory=_event_loop()) as runner:
            return runner.run(serve(topology, args, locust_args, run_dir))
    except (KeyboardInterrupt, _Interrupted):
        print("\ninterrupted", flush=True)
        return 130
    finally:
        print("stopping the topology", flush=True)
        with signals_ignored():
            topology.stop()
        print(f"stopped; logs and reports: {run_dir}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
