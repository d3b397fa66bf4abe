"""loadtests/topology.py: the local multi-pod topology that `make loadtest` aims Locust at.

First its proxy against scripted pods (framing, keep-alive, round-robin, WebSocket bytes passed
as they come, both sides closed together), then the real thing: 2 api and 2 realtime processes
behind the proxy (requests and sockets read back from each process's own /metrics, an event
written through the proxy reaching sockets on both realtime processes), stopped without
leaving a process behind; then a short headless Locust run that leaves its reports."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import csv
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from taskboard.embedded.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = ROOT / "loadtests" / "topology.py"
# The scenario of the issue once it exists; until then the probe beside this file.
REAL_LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
PROBE_LOCUSTFILE = Path(__file__).with_name("topology_locustfile.py")

# topology.py imports benchkit as the other load-test scripts do, from loadtests/.
if str(ROOT / "loadtests") not in sys.path:
    sys.path.append(str(ROOT / "loadtests"))
topology: Any = importlib.import_module("topology")

API = "/api/v1"
SOON = 10.0  # generous: the machine is shared; nothing here judges a duration


# =========================================================================== scripted pods


@dataclass
class FakePod:
    """An HTTP/1.1 server that speaks just enough to script the proxy's upstream. It records
    each request with the number of the connection it came on; /ws switches to raw bytes."""

    requests: list[tuple[int, str, str, bytes]] = field(default_factory=list)
    connections: int = 0
    received: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)  # after an upgrade
    upgraded: list[asyncio.StreamWriter] = field(default_factory=list)
    ended: asyncio.Queue[int] = field(default_factory=asyncio.Queue)  # connections that saw EOF
    server: asyncio.Server | None = None
    open: dict[asyncio.StreamWriter, asyncio.Task[Any]] = field(default_factory=dict)

    async def start(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return "127.0.0.1", int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        task = asyncio.current_task()
        assert task is not None
        self.open[writer] = task
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {
                    name.lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = b""
                if headers.get("transfer-encoding") == "chunked":
                    body = await _read_chunked(reader)
                elif "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                self.requests.append((number, method, path, body))
                if path.split("?")[0] == "/ws":
                    writer.write(b"HTTP/1.1 101 Switching Protocols\r\n")
                    writer.write(b"upgrade: websocket\r\nconnection: Upgrade\r\n\r\n")
                    self.upgraded.append(writer)
                    while data := await reader.read(65536):
                        await self.received.put(data)
                    break
                if path == "/chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    writer.write(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n")
                elif path == "/empty":
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                elif path == "/until-close":  # no length: the body ends when the pod closes
                    writer.write(b"HTTP/1.1 200 OK\r\n\r\nbye")
                    break
                else:
                    reply = f"{number} {method} {path} {len(body)}".encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(reply))
                    if method != "HEAD":
                        writer.write(reply)
                await writer.drain()
        finally:
            writer.close()
            self.open.pop(writer, None)
            await self.ended.put(number)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        tasks = list(self.open.values())
        for writer in list(self.open):
            writer.close()  # its reader sees the end: the handler returns
        await asyncio.gather(*tasks, return_exceptions=True)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass
    return body


@dataclass
class Pods:
    api: list[FakePod]
    realtime: FakePod
    proxy: Any


@pytest.fixture
async def pods() -> AsyncIterator[Pods]:
    api = [FakePod(), FakePod()]
    realtime = FakePod()
    proxy = topology.Proxy([await pod.start() for pod in api], [await realtime.start()], port=0)
    await proxy.start()
    yield Pods(api, realtime, proxy)
    await proxy.close()
    for pod in [*api, realtime]:
        await pod.close()


async def _connect(proxy: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response with a Content-Length (or none): its head and body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SOON)
    match = re.search(rb"content-length: *(\d+)", head, re.I)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return head, body


async def _received(pod: FakePod, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += await asyncio.wait_for(pod.received.get(), SOON)
    return data


async def test_keep_alive_requests_share_one_pod_connection_with_their_bodies_whole(
    pods: Pods,
) -> None:
    big = os.urandom(300_000)  # several reads and writes on each side of the proxy

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    async with httpx.AsyncClient(base_url=pods.proxy.url, timeout=SOON) as client:
        first = await client.get("/first?x=1")
        posted = await client.post("/upload", content=big)
        chunked = await client.get("/chunked")
        head = await client.head("/head")
        empty = await client.get("/empty")
        streamed = await client.post("/streamed", content=parts())  # a chunked request body
        last = await client.get("/last")

    assert first.text == "1 GET /first?x=1 0"
    assert posted.text == f"1 POST /upload {len(big)}"
    assert chunked.text == "hello world"
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len("1 HEAD /head 0"))
    assert head.content == b""
    assert empty.status_code == 204
    assert streamed.text == "1 POST /streamed 13"
    assert last.text == "1 GET /last 0"
    served = [pod for pod in pods.api if pod.requests]
    assert len(served) == 1, "one keep-alive connection, one pod"
    assert [pod.connections for pod in pods.api] in ([1, 0], [0, 1])
    bodies = {path: body for _, _, path, body in served[0].requests}
    assert bodies["/upload"] == big
    assert bodies["/streamed"] == b"one,two,three"


async def test_connections_go_round_robin_and_ws_to_the_realtime_pods(pods: Pods) -> None:
    for _ in range(4):
        async with httpx.AsyncClient(base_url=pods.proxy.url, timeout=SOON) as client:
            assert (await client.get("/healthz")).status_code == 200
    assert [pod.connections for pod in pods.api] == [2, 2]
    assert pods.realtime.requests == []
    assert pods.proxy.opened == {"api": [2, 2], "realtime": [0]}

    reader, writer = await _connect(pods.proxy)
    writer.write(b"GET /ws?token=no HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\n")
    writer.write(b"upgrade: websocket\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SOON)
    assert head.startswith(b"HTTP/1.1 101")
    assert [path for _, _, path, _ in pods.realtime.requests] == ["/ws?token=no"]
    assert sum(len(pod.requests) for pod in pods.api) == 4
    writer.close()


async def test_websocket_bytes_pass_both_ways_as_they_come_on_a_connection_that_began_as_http(
    pods: Pods,
) -> None:
    reader, writer = await _connect(pods.proxy)
    # A keep-alive request to the api pods first: the upgrade on the same connection still
    # reaches a realtime pod.
    writer.write(b"GET /before HTTP/1.1\r\nhost: x\r\n\r\n")
    _, body = await _response(reader)
    assert body.endswith(b"GET /before 0")
    writer.write(b"GET /ws HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, Upgrade\r\n")
    writer.write(b"upgrade: websocket\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SOON)
    assert head.startswith(b"HTTP/1.1 101")

    # A frame announcing a 1000-byte payload, of which 10 bytes are sent: they reach the pod
    # while the rest of the message does not exist yet.
    start = b"\x82\xfe\x03\xe8" + b"mask" + b"0123456789"
    writer.write(start)
    await writer.drain()
    assert await _received(pods.realtime, len(start)) == start
    pod_side = pods.realtime.upgraded[0]
    pod_side.write(b"\x81\x7e\x01\x00" + b"a" * 5)  # 256 announced, 5 sent
    assert await asyncio.wait_for(reader.readexactly(9), SOON) == b"\x81\x7e\x01\x00aaaaa"
    rest = b"x" * 990
    writer.write(rest)
    assert await _received(pods.realtime, len(rest)) == rest

    # The pod closes: so does the client's side.
    pod_side.close()
    assert await asyncio.wait_for(reader.read(), SOON) == b""
    writer.close()


async def test_when_the_client_closes_the_pods_connection_closes(pods: Pods) -> None:
    reader, writer = await _connect(pods.proxy)
    writer.write(
        b"GET /ws HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n"
    )
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SOON)
    writer.close()
    assert await asyncio.wait_for(pods.realtime.ended.get(), SOON) == 1

    # And on a keep-alive HTTP connection, idle between requests.
    async with httpx.AsyncClient(base_url=pods.proxy.url, timeout=SOON) as client:
        assert (await client.get("/a")).status_code == 200
    ended = [await asyncio.wait_for(pod.ended.get(), SOON) for pod in pods.api if pod.requests]
    assert ended == [1]


async def test_a_response_that_ends_with_the_pods_close_ends_the_client_connection(
    pods: Pods,
) -> None:
    reader, writer = await _connect(pods.proxy)
    writer.write(b"GET /until-close HTTP/1.1\r\nhost: x\r\n\r\n")
    everything = await asyncio.wait_for(reader.read(), SOON)  # through EOF
    assert everything.startswith(b"HTTP/1.1 200 OK")
    assert everything.endswith(b"\r\n\r\nbye")
    writer.close()


async def test_bad_requests_and_unreachable_pods_are_answered_by_the_proxy(pods: Pods) -> None:
    reader, writer = await _connect(pods.proxy)
    writer.write(b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n")
    head, _ = await _response(reader)
    assert head.startswith(b"HTTP/1.1 400")
    assert await asyncio.wait_for(reader.read(), SOON) == b""
    writer.close()
    assert all(pod.requests == [] for pod in pods.api)

    nowhere = topology.Proxy([("127.0.0.1", free_port())], [("127.0.0.1", free_port())])
    await nowhere.start()
    try:
        async with httpx.AsyncClient(base_url=nowhere.url, timeout=SOON) as client:
            assert (await client.get("/api/v1/boards")).status_code == 502
    finally:
        await nowhere.close()


# =========================================================================== the real thing


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    info: dict[str, Any]
    output: Path

    @property
    def url(self) -> str:
        return str(self.info["url"])

    def pods(self, kind: str) -> list[dict[str, Any]]:
        return [pod for pod in self.info["pods"] if pod["kind"] == kind]


def _start_topology(
    reports: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    output = reports / "topology.out"
    with output.open("wb") as file:
        process = subprocess.Popen(
            [sys.executable, str(TOPOLOGY), "--reports", str(reports), *args],
            cwd=ROOT,
            stdout=file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return process, output


def _described(process: subprocess.Popen[bytes], reports: Path, output: Path) -> dict[str, Any]:
    """topology.json, once the topology serves."""
    deadline = time.monotonic() + 180
    while not (described := list(reports.glob("*/topology.json"))):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the topology did not come up:\n{output.read_text()[-3000:]}")
        time.sleep(0.2)
    info: dict[str, Any] = json.loads(described[0].read_text())
    return info


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    reports = tmp_path_factory.mktemp("reports")
    process, output = _start_topology(reports, "--keep-running", "--api", "2", "--realtime", "2")
    try:
        yield Running(process, _described(process, reports, output), output)
    finally:
        # Only if a test failed before stopping it: the same stop, then no mercy.
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


HEALTHZ = re.compile(r'^taskboard_http_requests_total\{[^}]*route="/healthz"[^}]*\} (\S+)$', re.M)
SOCKETS = re.compile(r"^taskboard_ws_connections (\S+)$", re.M)


def _per_pod(running: Running, kind: str, pattern: re.Pattern[str]) -> list[float]:
    """A figure read from each process's own /metrics, around the proxy."""
    return [
        sum(
            float(value)
            for value in pattern.findall(
                httpx.get(f"http://127.0.0.1:{pod['port']}/metrics", timeout=SOON).text
            )
        )
        for pod in running.pods(kind)
    ]


def test_requests_through_the_proxy_reach_both_api_processes(running: Running) -> None:
    before = _per_pod(running, "api", HEALTHZ)
    for _ in range(6):
        with httpx.Client(timeout=SOON) as fresh:  # a connection each: round-robin
            assert fresh.get(f"{running.url}/healthz").status_code == 200
    spread = [b - a for a, b in zip(before, _per_pod(running, "api", HEALTHZ), strict=True)]
    assert spread == [3, 3]

    before = _per_pod(running, "api", HEALTHZ)
    with httpx.Client(timeout=SOON) as kept:  # one keep-alive connection: one process
        for _ in range(4):
            assert kept.get(f"{running.url}/healthz").status_code == 200
    spread = [b - a for a, b in zip(before, _per_pod(running, "api", HEALTHZ), strict=True)]
    assert sorted(spread) == [0, 4]


async def test_two_sockets_land_on_both_realtime_processes_and_both_get_an_event(
    running: Running,
) -> None:
    ws_url = running.info["ws"]
    async with httpx.AsyncClient(base_url=f"{running.url}{API}", timeout=30) as http:
        email = f"load-{time.monotonic_ns()}@example.com"
        registered = await http.post(
            "/auth/register",
            json={"email": email, "password": "password123", "display_name": "Load"},
        )
        assert registered.status_code == 201, registered.text
        login = await http.post("/auth/login", json={"email": email, "password": "password123"})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        board = await http.post("/boards", json={"name": "Through the proxy"}, headers=headers)
        assert board.status_code == 201, board.text
        board_id = board.json()["id"]

        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(websockets.connect(ws_url)) for _ in "ab"]
            for ws in sockets:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                assert json.loads(await ws.recv())["type"] == "authenticated"
            assert _per_pod(running, "realtime", SOCKETS) == [1, 1]
            for ws in sockets:
                await ws.send(json.dumps({"type": "subscribe", "board_id": board_id, "since": 0}))
                await _frame(ws, lambda f: f["type"] == "subscribed")
            task = await http.post(
                f"/boards/{board_id}/tasks", json={"title": "written through the proxy"},
                headers=headers,
            )  # fmt: skip
            assert task.status_code == 201, task.text
            for ws in sockets:
                event = await _frame(ws, lambda f: f.get("event") == "task.created")
                assert event["board_id"] == board_id
                assert event["data"]["task"]["id"] == task.json()["id"]


async def _frame(ws: Any, wanted: Any) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if wanted(frame):
                return frame


def _process_tree(root: int) -> dict[int, str]:
    """Every live process under `root`, with its start time (a reused pid is another one)."""
    parents: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = _stat(int(entry))
                parents[int(fields[1])].append((int(entry), fields[19]))
    tree: dict[int, str] = {}
    todo = [root]
    while todo:
        for pid, started in parents[todo.pop()]:
            tree[pid] = started
            todo.append(pid)
    return tree


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # after the name: state, ppid, ...


def _alive(pid: int, started: str) -> bool:
    try:
        fields = _stat(pid)
    except OSError:
        return False
    return fields[19] == started and fields[0] != "Z"


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def test_stopping_leaves_no_process_behind(running: Running) -> None:
    tree = _process_tree(running.process.pid)
    pods = {pod["pid"] for pod in running.info["pods"]}
    assert pods <= set(tree), "every pod is a process of the topology's"
    assert len(tree) > len(pods), "and so are PostgreSQL, Redis and gunicorn's workers"
    ports = [pod["port"] for pod in running.info["pods"]]
    ports += [running.info["postgres_port"], running.info["redis_port"]]
    proxy_port = int(running.url.rsplit(":", 1)[1])

    running.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert running.process.wait(timeout=90) == 0, running.output.read_text()[-3000:]

    left = {pid for pid, started in tree.items() if _alive(pid, started)}
    assert left == set(), f"still running: {left}"
    assert [port for port in [proxy_port, *ports] if _listening(port)] == []
    assert "stopped" in running.output.read_text()


def test_a_killed_topology_takes_its_processes_with_it(tmp_path: Path) -> None:
    process, output = _start_topology(
        tmp_path,
        "--keep-running", "--api", "1", "--realtime", "1",
        # Its PostgreSQL and Redis die with it too: the pods' drains cannot finish, only end.
        env={"TASKBOARD_GRACEFUL_TIMEOUT_SECONDS": "2"},
    )  # fmt: skip
    try:
        info = _described(process, tmp_path, output)
        tree = _process_tree(process.pid)
        assert {pod["pid"] for pod in info["pods"]} <= set(tree)
        process.kill()  # no cleanup of its own: the kernel tells each child (PDEATHSIG)
        process.wait()
        deadline = time.monotonic() + 60
        while left := {pid for pid, started in tree.items() if _alive(pid, started)}:
            if time.monotonic() > deadline:
                pytest.fail(f"still running: {left}")
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for leftover in _described(process, tmp_path, output).get("data_dirs", []):
            shutil.rmtree(leftover, ignore_errors=True)


# =========================================================================== make loadtest


def test_make_loadtest_runs_the_topology_script_with_args() -> None:
    # As a person types it, also when this suite itself runs under `make check` (a make
    # inside make announces the directories it enters and leaves).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "loadtest", "ARGS=--api 3 --users 7 --tags rest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert dry.stdout.splitlines()[-1] == (
        ".venv/bin/python loadtests/topology.py --api 3 --users 7 --tags rest"
    )


def test_a_short_headless_locust_run_leaves_csv_and_html_reports(tmp_path: Path) -> None:
    locustfile = REAL_LOCUSTFILE if REAL_LOCUSTFILE.exists() else PROBE_LOCUSTFILE
    process, output = _start_topology(
        tmp_path,
        "--api", "1", "--realtime", "1",
        "--users", "3", "--spawn-rate", "3", "--run-time", "4s",
        "--locustfile", str(locustfile),
        "--stop-timeout", "2",  # an argument of Locust's own, passed through
    )  # fmt: skip
    try:
        code = process.wait(timeout=240)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    log = output.read_text()
    assert code == 0, log[-4000:]

    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    with (run_dir / "run_stats.csv").open() as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    report = (run_dir / "report.html").read_text()
    assert "locust" in report.lower()
    if locustfile == PROBE_LOCUSTFILE:  # both routes of the proxy carried load
        assert int(rows["/readyz"]["Request Count"]) > 0
        assert int(rows["/ws upgrade"]["Request Count"]) > 0
        assert "/ws upgrade" in report
    logs = {path.name for path in (run_dir / "logs").iterdir()}
    assert {"api-1.log", "realtime-1.log", "worker.log", "locust.log"} <= logs
    assert {"postgres.log", "redis.log", "migrate.log"} <= logs
    summary = (run_dir / "summary.txt").read_text()
    assert "locust exit code: 0" in summary
    assert "cores" in summary  # the machine, as every benchmark reports it
    assert json.loads((run_dir / "topology.json").read_text())["url"] in log
