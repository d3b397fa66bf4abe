"""What the benchmarks' figures rest on (loadtests/benchkit): the HTTP/1.1 client, against a
scripted server, frames requests and responses right, keeps connections alive, reconnects when
told to close and refuses a status nobody expected; the py-spy summary charges each sample to
the right layer, caller and stages; the fan-out summary tells the rate kept up with from the
rate kept up with inside the latency targets."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
from benchkit.http1 import Connection, HttpError, Pool
from benchkit.pyspy import summarize
from benchkit.stats import highest_rates

Reply = Callable[[str, dict[str, str], bytes], bytes]


@dataclass
class Server:
    """Answers each request with `reply(request line, headers, body)`: raw response bytes, or
    b"" to close the connection without answering."""

    reply: Reply
    connections: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                line, *rest = head.decode("latin-1").split("\r\n")[:-2]
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((line, headers, body))
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                await asyncio.sleep(0.01)  # let concurrent requests overlap
                self.in_flight -= 1
                answer = self.reply(line, headers, body)
                if not answer:
                    return
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    return
        finally:
            writer.close()


Serve = Callable[[Reply], Awaitable[Server]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> Server:
        state = Server(reply)
        server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        state.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return state

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def ok(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def test_requests_share_one_keep_alive_connection_and_are_framed(serve: Serve) -> None:
    server = await serve(lambda line, headers, body: ok(json.dumps([line, body.decode()]).encode()))
    conn = Connection.to(f"http://127.0.0.1:{server.port}", {"Authorization": "Bearer t"})
    try:
        first = await conn.post("/api/tasks", json_body={"title": "é"})
        second = await conn.get("/healthz")
    finally:
        await conn.close()
    assert first.status == second.status == 200
    assert first.json() == ["POST /api/tasks HTTP/1.1", '{"title":"\\u00e9"}']
    assert second.json() == ["GET /healthz HTTP/1.1", ""]
    assert server.connections == conn.connects == 1
    _, headers, body = server.requests[0]
    assert headers["authorization"] == "Bearer t"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    assert headers["host"] == f"127.0.0.1:{server.port}"


async def test_chunked_and_empty_bodies_leave_the_connection_usable(serve: Serve) -> None:
    replies = iter(
        [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            ok(b"last"),
        ]
    )
    server = await serve(lambda *_: next(replies))
    conn = Connection.to(f"http://127.0.0.1:{server.port}")
    try:
        chunked = await conn.get("/a")
        empty = await conn.request("DELETE", "/b")
        last = await conn.get("/c")
    finally:
        await conn.close()
    assert (chunked.status, chunked.body) == (200, b"hello, world")
    assert (empty.status, empty.body) == (204, b"")
    assert (last.status, last.body) == (200, b"last")
    assert server.connections == 1


async def test_connection_close_makes_the_next_request_reconnect(serve: Serve) -> None:
    server = await serve(lambda *_: ok(b"bye", extra="Connection: close\r\n"))
    conn = Connection.to(f"http://127.0.0.1:{server.port}")
    try:
        assert (await conn.get("/1")).body == b"bye"
        assert (await conn.get("/2")).body == b"bye"
    finally:
        await conn.close()
    assert server.connections == conn.connects == 2


async def test_an_unexpected_status_or_a_dropped_connection_is_an_error(serve: Serve) -> None:
    answers = iter([ok(b'{"title":"boom"}', status="500 Internal Server Error"), b""])
    server = await serve(lambda *_: next(answers))
    conn = Connection.to(f"http://127.0.0.1:{server.port}")
    try:
        failed = await conn.post("/x", json_body={})
        assert failed.status == 500
        with pytest.raises(HttpError, match=r"expected 201, got 500: .*boom"):
            failed.expect(201)
        assert failed.expect(500, 201) is failed
        with pytest.raises(HttpError, match="closed the connection"):
            await conn.get("/y")
    finally:
        await conn.close()


async def test_a_pool_never_has_more_requests_in_flight_than_connections(serve: Serve) -> None:
    server = await serve(lambda *_: ok(b"{}"))
    async with Pool(f"http://127.0.0.1:{server.port}", 3) as pool:
        responses = await asyncio.gather(*(pool.get(f"/{i}") for i in range(12)))
        assert [r.status for r in responses] == [200] * 12
        assert pool.connects == 3
    assert server.connections == 3
    assert server.most_in_flight == 3


def test_only_plain_http_urls() -> None:
    with pytest.raises(ValueError, match="only http"):
        Connection.to("https://example.com")


SITE = "/venv/lib/python3.11/site-packages"
LOOP = "Runner.run (/py/lib/python3.11/asyncio/runners.py:118)"
STACKS = f"""\
main (/app/taskboard/cli.py:3);{LOOP};create (/app/taskboard/tasks/service.py:90);\
Session.execute ({SITE}/sqlalchemy/orm/session.py:2);dumps (/py/lib/python3.11/json/__init__.py:1) 6
main (/app/taskboard/cli.py:3);{LOOP};create (/app/taskboard/tasks/service.py:91) 1
main (/app/taskboard/cli.py:3);{LOOP} 2
main (/app/taskboard/cli.py:3);{LOOP};RequestResponseCycle.run_asgi ({SITE}/uvicorn/h.py:4) 1
"""


def test_the_profile_summary_charges_library_and_standard_library_time_to_callers(
    tmp_path: Path,
) -> None:
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(STACKS)
    summary = summarize([stacks], {"service": r"^create .*tasks/service", "sql": r"/sqlalchemy/"})
    assert summary.samples == 10
    # json called by SQLAlchemy is SQLAlchemy's; the loop alone is the loop, not the CLI below.
    assert dict(summary.layers) == {
        "sqlalchemy": 6,
        "taskboard": 1,
        "event loop and I/O (native)": 2,
        "uvicorn": 1,
    }
    assert dict(summary.ours) == {
        "taskboard.tasks.service.create": 7,
        "(no taskboard frame) event loop and I/O (native)": 2,
        "(no taskboard frame) uvicorn": 1,
    }
    assert dict(summary.stages) == {"service": 7, "sql": 6}
    assert summary.lines()[0] == "10 samples"


def _phase(offered: float, done: float, p50: float, p99: float) -> dict[str, float]:
    return {"write_rate_offered": offered, "write_rate_done": done, "p50_ms": p50, "p99_ms": p99}


def test_highest_rates_tells_keeping_up_from_keeping_up_inside_the_targets() -> None:
    phases = [
        _phase(500, 480.0, 900.0, 2500.0),  # fell behind: 4 % short
        _phase(450, 446.6, 105.0, 257.0),  # kept up (within 1 %), far outside the targets
        _phase(350, 349.9, 5.3, 19.9),  # p50 over
        _phase(300, 299.9, 4.3, 25.0),  # both targets, p99 exactly on its bound
        _phase(250, 250.0, 3.9, 8.4),
    ]
    assert highest_rates(phases, p50_ms=5, p99_ms=25) == (450, 300)
    # A rate inside the targets that was not kept up with does not count.
    assert highest_rates([_phase(300, 290.0, 4.0, 9.0)], p50_ms=5, p99_ms=25) == (None, None)
    assert highest_rates([], p50_ms=5, p99_ms=25) == (None, None)
