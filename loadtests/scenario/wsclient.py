"""A small WebSocket client for Locust, on websocket-client's blocking API: Locust monkey-patches
the standard library's sockets for gevent, so a blocking `recv` parks only its own greenlet and
one greenlet per socket reads while the user's greenlet writes."""

from __future__ import annotations

import json
import struct
from typing import Any

import websocket


class Closed(Exception):
    """The socket closed: `code` is the close frame's code, 1006 when none came (a drop)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"closed {code} {reason}".strip())
        self.code = code
        self.reason = reason


def ws_url(host: str, override: str = "") -> str:
    """The socket endpoint of a taskboard at `host` (http(s)://…): the same origin's /ws."""
    if override:
        return override
    base = host.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/ws"
    return "ws://" + base.removeprefix("http://") + "/ws"


class ConnectFailed(Closed):
    """No socket: refused, unreachable, or the handshake answered `code` (an HTTP status)."""


class Socket:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        try:
            self.ws = websocket.create_connection(
                url,
                timeout=timeout,
                # Text frames are the server's JSON: skipping websocket-client's pure-Python
                # UTF-8 check of each one keeps the load generator's CPU for the load.
                skip_utf8_validation=True,
                # Its locks (gevent's, once patched): the user's greenlet sends pings while
                # the reading greenlet waits in recv.
                enable_multithread=True,
            )
        except (OSError, websocket.WebSocketException) as exc:
            raise ConnectFailed(getattr(exc, "status_code", None) or 1006, str(exc)) from exc

    def settle(self) -> None:
        """From now on reads block for as long as the boards are quiet (`timeout` bounded the
        handshake and the answer to `auth`); the server's pings, answered inside recv, keep
        the connection alive."""
        self.ws.settimeout(None)

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.ws.send(json.dumps(message, separators=(",", ":")))
        except (OSError, websocket.WebSocketException) as exc:
            raise Closed(1006, str(exc)) from exc

    def recv(self) -> str:
        """The next text frame; `Closed` when the socket ends."""
        try:
            opcode, data = self.ws.recv_data()
        except (OSError, websocket.WebSocketException) as exc:
            raise Closed(1006, str(exc)) from exc
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            raise Closed(code, data[2:].decode("utf-8", "replace"))
        if isinstance(data, bytes):
            return data.decode("utf-8")
        return str(data)

    def drop(self) -> None:
        """Cut the connection without a close frame, as a dying pod or network would: the
        reading greenlet wakes with `Closed(1006)`."""
        self.ws.abort()

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except (OSError, websocket.WebSocketException):
            self.ws.shutdown()
