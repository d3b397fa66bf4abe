"""Frames written straight to the transport (realtime/wire.py), against a uvicorn server in
this process and clients on raw sockets that read only when told to: the direct path while the
peer keeps up, the queue while it lags, and the order of the frames across the switches."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import uvicorn
from prometheus_client import CollectorRegistry, Histogram
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from taskboard.auth.principal import Principal
from taskboard.realtime.metrics import observe_many
from taskboard.realtime.subscriber import Connection
from taskboard.realtime.wire import Outgoing, Wire

PRINCIPAL = Principal(user_id=uuid.uuid4(), site_role="user")
# Payload lengths for each of the three header forms (7-bit, 16-bit and 64-bit lengths).
SIZES = (20, 3_000, 70_000)


def text(n: int) -> str:
    """Frame `n`: its number, padded to one of SIZES."""
    head = f"{n:06d}:"
    return head + "x" * (SIZES[n % len(SIZES)] - len(head))


@dataclass
class Site:
    port: int
    accepted: asyncio.Queue[Connection] = field(default_factory=asyncio.Queue)
    readers: list[Reader] = field(default_factory=list)

    async def open(self, *, deflate: bool = False) -> tuple[Reader, Connection]:
        """A client, and the server's Connection for it."""
        reader = await asyncio.to_thread(Reader, self.port, deflate=deflate)
        self.readers.append(reader)
        return reader, await asyncio.wait_for(self.accepted.get(), 10)


@contextlib.asynccontextmanager
async def served(**config: Any) -> AsyncIterator[Site]:
    """A uvicorn server whose app wraps each socket in a Connection, as the gateway does, and
    hands it to the test."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    site = Site(listener.getsockname()[1])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        connection = Connection(websocket, PRINCIPAL, 100_000, 1 << 30, Wire.of(send))
        site.accepted.put_nowait(connection)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            await connection.stop()

    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_config=None, ws_ping_interval=None, **config)
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        yield site
    finally:
        # Readers first: a transport with bytes for a peer that does not read would hold up
        # the server's shutdown.
        for reader in site.readers:
            reader.close()
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(serving), 10)
        except TimeoutError:
            server.force_exit = True
            await serving
        listener.close()


class Reader:
    """A WebSocket client on a blocking socket with a tiny receive buffer: while it does not
    read, the server's transport soon has to wait for it. Blocking: call from a thread."""

    def __init__(self, port: int, *, deflate: bool = False) -> None:
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/"), extensions=extensions)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", port))
        self.protocol.send_request(self.protocol.connect())
        self.sock.sendall(b"".join(self.protocol.data_to_send()))
        while self.protocol.state is not State.OPEN:
            self.protocol.receive_data(self.sock.recv(4096))
        self.pending = [e for e in self.protocol.events_received() if isinstance(e, Frame)]
        self.wire_bytes = 0  # after the handshake

    def read_until(self, last: str) -> list[str]:
        """The texts of the messages that arrive, up to and including `last`."""
        texts: list[str] = []
        while True:
            for event in self.pending:
                assert isinstance(event, Frame), event
                assert event.opcode is Opcode.TEXT, event
                texts.append(bytes(event.data).decode())
                if texts[-1] == last:
                    return texts
            data = self.sock.recv(1 << 16)
            assert data, "the server closed the socket"
            self.wire_bytes += len(data)
            self.protocol.receive_data(data)
            self.pending = [e for e in self.protocol.events_received() if isinstance(e, Frame)]

    def close(self) -> None:
        self.sock.close()


async def test_frames_go_straight_out_until_the_peer_lags_then_wait_in_order() -> None:
    # uvicorn's default WebSocket protocol, as `taskboard realtime` runs it.
    async with served(ws="auto") as site:
        reader, connection = await site.open()
        wire = connection.wire
        assert wire is not None
        direct: list[bool] = []

        def push() -> bool:
            """Frame number len(direct); True: written straight to the transport."""
            direct.append(connection.push(Outgoing(text(len(direct)))))
            return direct[-1]

        # The reader does not read: frames go straight to the transport until it pauses.
        while push() and len(direct) < 2_000:
            pass
        assert direct[0]
        assert not direct[-1], "the transport never paused"
        assert not wire.ready()
        # From then on frames queue behind the first one that waits, even a small one.
        for _ in range(20):
            push()
        assert not any(direct[-21:])
        assert len(connection.queue) == 21
        switched = len(direct) - 21
        # The transport can take more (what it tells uvicorn once its buffer drains) and the
        # sender has not run yet: a new frame still queues behind the others.
        wire._protocol.resume_writing()
        assert wire.ready()
        assert not push()

        # Reading again: the sender drains the queue while new frames keep coming; they queue
        # behind it until it is empty, then go straight out again.
        reading = asyncio.create_task(asyncio.to_thread(reader.read_until, "end"))
        resumed = False
        while not resumed and len(direct) < switched + 2_000:
            await asyncio.sleep(0.005)
            resumed = push()
        assert resumed, "frames never went straight out again"
        for _ in range(5):
            push()
        assert connection.push(Outgoing("end"))
        texts = await asyncio.wait_for(reading, 60)

    # Every frame once, in the order pushed, across both switches.
    assert texts == [text(n) for n in range(len(direct))] + ["end"]
    back = direct.index(True, switched)
    assert not any(direct[switched:back])
    assert all(direct[back:])
    assert not connection.queue


async def test_deflate_sockets_get_frames_compressed_by_their_own_protocol() -> None:
    async with served(ws="websockets-sansio", ws_per_message_deflate=True) as site:
        reader, connection = await site.open(deflate=True)
        assert reader.protocol.extensions, "permessage-deflate was not negotiated"
        # One Outgoing to several frames' worth: each socket compresses it with its own state.
        shared = Outgoing(text(0))
        written = [connection.push(shared) for _ in range(3)]
        written += [connection.push(Outgoing(text(n))) for n in (1, 2)]
        written.append(connection.push(Outgoing("end")))
        assert all(written)
        texts = await asyncio.to_thread(reader.read_until, "end")
    assert texts == [text(0)] * 3 + [text(1), text(2), "end"]
    # Compressed on the wire (an uncompressed frame would be valid too, only 40 times larger).
    assert reader.wire_bytes < sum(map(len, texts)) / 20


async def test_other_servers_get_every_frame_through_the_queue() -> None:
    async with served(ws="wsproto") as site:
        reader, connection = await site.open()
        assert connection.wire is None
        written = [connection.push(Outgoing(text(n))) for n in range(30)]
        written.append(connection.push(Outgoing("end")))
        assert not any(written)
        texts = await asyncio.to_thread(reader.read_until, "end")
    assert texts == [text(n) for n in range(30)] + ["end"]


@pytest.mark.parametrize("missing", ["", "close_sent", "writable", "conn.extensions"])
def test_a_uvicorn_without_what_the_wire_uses_gets_the_asgi_path(missing: str) -> None:
    protocol = object.__new__(WebSocketsSansIOProtocol)
    protocol.conn = ServerProtocol()
    protocol.transport = cast(asyncio.Transport, object())
    protocol.writable = asyncio.Event()
    protocol.close_sent = False
    if missing.startswith("conn."):
        # An instance attribute of websockets' protocol, gone in this imagined release.
        delattr(protocol.conn, missing.removeprefix("conn."))
    elif missing:
        delattr(protocol, missing)
    wire = Wire.of(protocol.send)
    assert (wire is None) == bool(missing)
    assert Wire.of(lambda message: None) is None


@pytest.mark.parametrize("value", [0.0, 0.0005, 0.001, 0.0011, 0.05, 4.9, 5.0, 7.5])
def test_observe_many_records_what_single_observations_would(value: float) -> None:
    buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
    batched = Histogram("batched", "", buckets=buckets, registry=CollectorRegistry())
    single = Histogram("single", "", buckets=buckets, registry=CollectorRegistry())
    for histogram in (batched, single):
        histogram.observe(0.003)  # something there already
    observe_many(batched, value, 250)
    for _ in range(250):
        single.observe(value)

    def samples(histogram: Histogram) -> list[tuple[str, dict[str, str], float]]:
        (metric,) = histogram.collect()
        return [
            (s.name.split("_", 1)[1], s.labels, round(s.value, 9))
            for s in metric.samples
            if not s.name.endswith("_created")
        ]

    assert samples(batched) == samples(single)
