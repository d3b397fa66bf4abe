"""A minimal HTTP/1.1 client for load generators: keep-alive connections over asyncio streams.

httpx costs about 1.1 ms of CPU per request on the 2-core benchmark machines (its connection
pool, models and hooks), a third of what the api spends on a task create: the load generator
then competes with the server it measures. One request here is a formatted head, a write and two
reads (the head up to its blank line, then Content-Length bytes or the chunks): about a tenth
of that. What it leaves out on purpose: TLS, proxies, redirects, cookies, HTTP/2, pipelining
(a connection carries one request at a time) and any retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_MAX_HEAD = 64 * 1024


class HttpError(Exception):
    """A response that is not what the caller expected, or one that breaks the protocol."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def expect(self, *statuses: int) -> Response:
        """Itself, when its status is one of `statuses`; else HttpError with the body's start."""
        if self.status not in statuses:
            raise HttpError(
                f"expected {'/'.join(map(str, statuses))}, got {self.status}: {self.body[:300]!r}"
            )
        return self


@dataclass
class Connection:
    """One keep-alive connection; requests on it run one after another. It reconnects by
    itself when the server closed it (`Connection: close`) or when it is first used."""

    host: str
    port: int
    default_headers: dict[str, str] = field(default_factory=dict)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    connects: int = 0  # how many TCP connections it opened: a benchmark checks keep-alive held

    @classmethod
    def to(cls, url: str, headers: Mapping[str, str] | None = None) -> Connection:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http://host:port URLs: {url!r}")
        return cls(parts.hostname, parts.port or 80, dict(headers or {}))

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self.connects += 1
        return self._reader, self._writer

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # the peer went first: nothing left to flush
                await writer.wait_closed()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
        merged = {**self.default_headers, **(headers or {})}
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in merged.items()]
        if body is not None:
            if json_body is not None:
                lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        reader, writer = await self._open()
        try:
            writer.write(head + body if body else head)
            response = await self._read(reader, head_only=method == "HEAD")
        except BaseException:
            await self.close()  # a half-read response would poison the next request
            raise
        if response.headers.get("connection", "").lower() == "close":
            await self.close()
        return response

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    async def _read(self, reader: asyncio.StreamReader, *, head_only: bool) -> Response:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise HttpError("the server closed the connection before answering") from exc
        except asyncio.LimitOverrunError as exc:
            raise HttpError("response head too large") from exc
        if len(raw) > _MAX_HEAD:
            raise HttpError("response head too large")
        status_line, *header_lines = raw[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise HttpError(f"not an HTTP/1.x status line: {status_line!r}")
        status = int(rest[:3])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError(f"malformed header line: {line!r}")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or 100 <= status < 200:
            return Response(status, headers, b"")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:  # delimited by the end of the connection (HTTP/1.0 style)
            body = await reader.read()
            headers["connection"] = "close"
        return Response(status, headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers: none of ours send any, but they end with a blank line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError("chunk not followed by CRLF")


class Pool:
    """A fixed number of keep-alive connections to one server, lent one request at a time:
    concurrent requests beyond `size` wait for a free connection (as a browser's per-host
    limit does), so a benchmark's concurrency is exactly the connections it opens."""

    def __init__(self, url: str, size: int, headers: Mapping[str, str] | None = None) -> None:
        self.connections = [Connection.to(url, headers) for _ in range(size)]
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        for conn in self.connections:
            self._idle.put_nowait(conn)

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        conn = await self._idle.get()
        try:
            return await conn.request(method, path, **kwargs)
        finally:
            self._idle.put_nowait(conn)

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    @property
    def connects(self) -> int:
        return sum(c.connects for c in self.connections)

    async def close(self) -> None:
        for conn in self.connections:
            await conn.close()

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
