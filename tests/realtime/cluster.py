"""Real processes of each deployment on one machine: several api, realtime and relay pods
sharing the test session's PostgreSQL and Redis, and a WebSocket client that records frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection

from taskboard.embedded.processes import (
    ManagedProcess,
    free_port,
    http_ok,
    taskboard_command,
    wait_all_ready,
)
from taskboard.realtime.protocol import SERVER_MESSAGES
from tests.conftest import TEST_SECRET
from tests.fixtures.services import ServiceUrls


@dataclass
class Pod:
    kind: str
    name: str
    port: int
    managed: ManagedProcess

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.managed.popen

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def kill(self) -> None:
        """SIGKILL the pod's whole process group: gunicorn's workers outlive a killed master."""
        self.managed.kill(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and its exit status; past `timeout` it is killed and TimeoutExpired raised."""
        exited = self.managed.stop(timeout=timeout)
        if exited.killed:
            raise subprocess.TimeoutExpired(self.managed.command, timeout)
        return exited.returncode


STREAM_SHARDS = 4  # fewer than the default: each pod reads every shard


def base_env(urls: ServiceUrls, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TASKBOARD_DATABASE_URL": urls.database_url,
        "TASKBOARD_REDIS_URL": urls.redis_url,
        "TASKBOARD_SECRET_KEY": TEST_SECRET,
        "TASKBOARD_ENV": "test",
        "TASKBOARD_WEB_CONCURRENCY": "1",
        "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
        "TASKBOARD_PASSWORD_HASH_MEMORY_KIB": "64",
        "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "100000",
        "TASKBOARD_STREAM_SHARDS": str(STREAM_SHARDS),
        "TASKBOARD_LOG_LEVEL": "WARNING",
        "TASKBOARD_METRICS_PORT": "0",  # many pods on one host: /metrics on each main port
        "TASKBOARD_WS_AUTH_TIMEOUT_SECONDS": "1",
        "TASKBOARD_GRACEFUL_TIMEOUT_SECONDS": "5",
        **extra,
    }


def start(kind: str, name: str, urls: ServiceUrls, **env: str) -> Pod:
    """Start one pod (output discarded); `wait_ready` waits for it."""
    port = free_port()
    process = ManagedProcess(
        taskboard_command(kind, "--port", str(port)),
        name=name,
        env=base_env(urls, TASKBOARD_POD_NAME=name, **env),
        ready=http_ok(f"http://127.0.0.1:{port}/readyz"),
        ready_timeout=90,
    )
    return Pod(kind, name, port, process.start())


def wait_ready(pods: list[Pod], timeout: float = 90) -> None:
    """Until every pod's /readyz answers 200; fails as soon as one exits."""
    wait_all_ready([pod.managed for pod in pods], timeout)


@dataclass
class Account:
    id: str
    token: str
    email: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def account(http: httpx.AsyncClient, api: Pod, name: str) -> Account:
    email = f"{name.replace(' ', '.')}-{time.monotonic_ns()}@example.com"
    created = await http.post(
        f"{api.http}/api/v1/auth/register",
        json={"email": email, "password": "password123", "display_name": name},
    )
    assert created.status_code == 201, created.text
    login = await http.post(
        f"{api.http}/api/v1/auth/login", json={"email": email, "password": "password123"}
    )
    return Account(created.json()["id"], login.json()["access_token"], email)


async def board_with(
    http: httpx.AsyncClient, api: Pod, owner: Account, *members: Account, name: str = "Board"
) -> str:
    """A board of `owner`'s with `members` added as members; its id."""
    board = await http.post(f"{api.http}/api/v1/boards", json={"name": name}, headers=owner.headers)
    assert board.status_code == 201, board.text
    board_id: str = board.json()["id"]
    for member in members:
        added = await http.put(
            f"{api.http}/api/v1/boards/{board_id}/members/{member.id}",
            json={"role": "member"},
            headers=owner.headers,
        )
        assert added.status_code == 200, added.text
    return board_id


@dataclass
class WsClient:
    """Records every frame; `seqs[board]` lists event seqs in arrival order."""

    url: str
    token: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    seqs: dict[str, list[int]] = field(default_factory=dict)
    close_code: int | None = None
    connection: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    undocumented: list[str] = field(default_factory=list)

    async def connect(self, **options: Any) -> dict[str, Any]:
        self.close_code = None
        self.connection = await websockets.connect(self.url, **options)
        await self.connection.send(json.dumps({"type": "auth", "token": self.token}))
        first = json.loads(await self.connection.recv())
        assert first["type"] == "authenticated", first
        self.reader = asyncio.create_task(self._read())
        return first

    async def _read(self) -> None:
        assert self.connection is not None
        try:
            async for raw in self.connection:
                frame = json.loads(raw)
                # Every frame a test sees must be one the AsyncAPI document describes.
                try:
                    SERVER_MESSAGES.validate_python(frame)
                except ValidationError as exc:
                    self.undocumented.append(f"{frame}: {exc}")
                self.frames.append(frame)
                if frame["type"] == "event":
                    self.seqs.setdefault(frame["board_id"], []).append(frame["seq"])
                self.changed.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.connection.close_code or 1006
            self.changed.set()

    async def send(self, **message: Any) -> None:
        assert self.connection is not None
        await self.connection.send(json.dumps(message))

    async def subscribe(self, board_id: str, since: int | None = None) -> dict[str, Any]:
        start = len(self.frames)
        await self.send(type="subscribe", board_id=board_id, since=since)
        return await self.wait_for(
            lambda f: f["type"] in ("subscribed", "error") and f.get("board_id") == board_id,
            after=start,
        )

    async def wait_for(self, predicate: Any, timeout: float = 30, after: int = 0) -> dict[str, Any]:
        """The first frame at index >= `after` that matches."""
        deadline = time.monotonic() + timeout
        seen = after
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame; last: {self.frames[-3:]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1))

    async def wait_until_seq(self, board_id: str, seq: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (self.seqs.get(board_id) or [0])[-1] < seq:
            if self.close_code is not None:
                raise AssertionError(f"closed with {self.close_code} before seq {seq}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = self.seqs.get(board_id, [])
                raise AssertionError(f"reached seq {got[-1:]} of {seq}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1))

    async def wait_closed(self, timeout: float = 30) -> int:
        assert self.reader is not None
        await asyncio.wait_for(asyncio.shield(self.reader), timeout=timeout)
        assert self.close_code is not None
        return self.close_code

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader
        assert self.undocumented == [], self.undocumented[:3]
