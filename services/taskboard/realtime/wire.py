"""Writing a frame straight to a socket's transport when nothing has to wait before it.

Through ASGI a frame costs a wake-up of the socket's sender task and four layers (Starlette's
WebSocket, uvicorn's protocol, websockets' frame building, the transport): at a thousand
sockets per event, most of a hot board's fan-out. uvicorn's websockets-sansio protocol (what
its `ws="auto"` picks when websockets is installed) holds a websockets `ServerProtocol` and
an asyncio transport; while the socket is open and the transport is not paused, writing the
frame's bytes to the transport is what its `send` does, minus the layers. Without extensions
a text frame is the same bytes for every socket, so they are built once per frame, not once
per socket; with permessage-deflate each socket has its own compressor, so the frame goes
through that socket's `ServerProtocol`, as in uvicorn's `send`.

A paused transport (the peer reads slower than we write) gets no direct write: the frame
waits in the socket's queue, whose sender awaits uvicorn's `send`, which waits for the
transport, so the queue limits and the send timeout apply as before. Any other server (the
test client, wsproto, a middleware that wraps `send`) gets no `Wire` and every frame takes
the ASGI path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # an older uvicorn: no sans-I/O protocol, no direct writes
    WebSocketsSansIOProtocol = None  # type: ignore[assignment, misc]

# Looking the member up on the enum class took 0.15 µs, once per socket per frame.
_OPEN = State.OPEN
# What a Wire uses of uvicorn's protocol and of its websockets ServerProtocol.
_PROTOCOL = ("conn", "transport", "writable", "close_sent")
_CONN = ("state", "extensions", "send_text", "data_to_send")


class Outgoing:
    """A frame for one socket or many: its text (for the ASGI path), when its event was
    committed (epoch seconds, for the commit-to-send metric; None for control frames), and
    its bytes, made on first use and then shared by every socket it is written to."""

    __slots__ = ("_framed", "_payload", "text", "ts")

    def __init__(self, text: str, ts: float | None = None) -> None:
        self.text = text
        self.ts = ts
        self._payload: bytes | None = None
        self._framed: bytes | None = None

    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = self.text.encode()
        return self._payload

    def framed(self) -> bytes:
        """The whole frame as a server sends it without extensions: unmasked, unfragmented."""
        if self._framed is None:
            self._framed = Frame(Opcode.TEXT, self.payload()).serialize(mask=False)
        return self._framed


class Wire:
    """One socket's uvicorn protocol, written to directly."""

    __slots__ = ("_conn", "_protocol", "_transport", "_writable")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._conn = protocol.conn
        self._transport = protocol.transport
        self._writable = protocol.writable

    @classmethod
    def of(cls, send: Callable[..., Any]) -> Wire | None:
        """The Wire behind an ASGI `send`, if it is uvicorn's sans-I/O protocol's own."""
        protocol = getattr(send, "__self__", None)
        if WebSocketsSansIOProtocol is None or type(protocol) is not WebSocketsSansIOProtocol:
            return None
        # uvicorn's internals, not its API: a release that changes them must cost the fast
        # path (and fail tests/realtime/test_wire.py), not every socket.
        conn = getattr(protocol, "conn", None)
        if not all(hasattr(protocol, name) for name in _PROTOCOL) or not all(
            hasattr(conn, name) for name in _CONN
        ):
            return None
        return cls(protocol)

    def ready(self) -> bool:
        """Whether a frame written now goes out as uvicorn's `send` would write it, without
        waiting: the handshake done, no close sent or received, the transport not paused."""
        return (
            self._writable.is_set()
            and self._conn.state is _OPEN
            and not self._protocol.close_sent
            and not self._transport.is_closing()
        )

    def write(self, item: Outgoing) -> None:
        """Only after `ready()`, in the same step of the event loop."""
        conn = self._conn
        if conn.extensions:
            conn.send_text(item.payload())
            self._transport.write(b"".join(conn.data_to_send()))
        else:
            self._transport.write(item.framed())
