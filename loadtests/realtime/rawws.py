"""A WebSocket client for the subscriber side of the realtime benchmarks that costs the load
generator a few microseconds a frame.

At 20,000 frames/s on two shared cores the `websockets` client (a future, a queue hand-off
and a text decode per message, plus a timer task when waiting with a timeout) took more CPU
than the realtime pod it measured, so latency measured the generator's own queue. Here one
asyncio.Protocol per socket parses frames straight out of `data_received` and hands each
message's bytes to a callback: no task, future or decode per frame.

Only what a subscriber needs of RFC 6455: the opening handshake, unmasked frames from the
server (text, binary, continuation, ping answered with pong, close answered and ended),
masked frames to it. No extensions are offered, so none are negotiated.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeError(ConnectionError):
    pass


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final frame from the client: masked, as the protocol requires."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return head + mask + masked


class RawSocket(asyncio.Protocol):
    """One client socket. Messages go to `on_message` (settable at any time); until then they
    queue in `inbox`, for the conversation before the measured part (auth, subscribe)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_message: Callable[[bytes], None] | None = None
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._fragments = bytearray()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is one in all but class (it does not subclass asyncio's).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        # The common case while measuring: exactly one final text frame of under 64 KiB.
        if (
            not self._buffer
            and self.on_message is not None
            and len(data) > 4
            and data[0] == 0x80 | OP_TEXT
        ):
            size = data[1]
            if size < 126 and len(data) == 2 + size:
                self.on_message(data[2:])
                return
            if size == 126 and len(data) == 4 + ((data[2] << 8) | data[3]):
                self.on_message(data[4:])
                return
        self._buffer += data
        if not self.upgraded.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(HandshakeError(head.split(b"\r\n", 1)[0].decode()))
                self._end(None)
                return
            self.upgraded.set_result(None)
        self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed before the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- frames

    def _frames(self) -> None:
        buf, at, end = self._buffer, 0, len(self._buffer)
        while end - at >= 2:
            first, second = buf[at], buf[at + 1]
            size, start = second & 0x7F, at + 2
            if size == 126:
                if end - start < 2:
                    break
                (size,) = struct.unpack_from("!H", buf, start)
                start += 2
            elif size == 127:
                if end - start < 8:
                    break
                (size,) = struct.unpack_from("!Q", buf, start)
                start += 8
            if end - start < size:
                break
            payload = bytes(buf[start : start + size])
            at = start + size
            self._frame(first & 0x80 != 0, first & 0x0F, payload)
        del buf[:at]

    def _frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
            if not fin or self._fragments:
                self._fragments += payload
                if not fin:
                    return
                payload = bytes(self._fragments)
                self._fragments.clear()
            if self.on_message is not None:
                self.on_message(payload)
            else:
                self.inbox.put_nowait(payload)
        elif opcode == OP_PING:
            self._write(client_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else None
            self._write(client_frame(OP_CLOSE, payload[:2]))
            self._end(code)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _end(self, code: int | None) -> None:
        if not self.closed.done():
            self.closed.set_result(code)
        if self.transport is not None:
            self.transport.close()

    # -- the caller's side

    def send_text(self, text: str) -> None:
        self._write(client_frame(OP_TEXT, text.encode()))

    async def receive(self) -> bytes:
        """The next message, before `on_message` is set."""
        return await self.inbox.get()

    def close(self) -> None:
        self._write(client_frame(OP_CLOSE, struct.pack("!H", 1000)))
        self._end(1000)


async def connect(url: str) -> RawSocket:
    """Open `url` (ws://host:port/path) and complete the handshake."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"only ws://host:port URLs: {url!r}")
    port = parts.port or 80
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(RawSocket, parts.hostname, port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert sock.transport is not None
    sock.transport.write(request.encode())
    try:
        await sock.upgraded
    except BaseException:
        sock.close()
        raise
    return sock
