"""Authentication, permissions, presence, backpressure and shutdown, against real pods."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from datetime import UTC, datetime

import httpx
import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.realtime.cluster import WsClient, account, start, wait_ready
from tests.realtime.conftest import Cluster
from tests.realtime.test_delivery import _board

API = "/api/v1"


async def test_auth_timeout_bad_token_and_cookie(cluster: Cluster) -> None:
    async with websockets.connect(cluster.rt1.ws) as silent:
        with_timeout = await asyncio.wait_for(silent.wait_closed(), timeout=10)
        assert with_timeout is None
        assert silent.close_code == 4002
    async with websockets.connect(cluster.rt1.ws) as forged:
        await forged.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        await asyncio.wait_for(forged.wait_closed(), timeout=10)
        assert forged.close_code == 4001
    async with websockets.connect(cluster.rt1.ws) as rude:
        await rude.send("hello")
        await asyncio.wait_for(rude.wait_closed(), timeout=10)
        assert rude.close_code == 4000
    async with httpx.AsyncClient() as http:
        user = await account(http, cluster.api1, "cookie")
    headers = {"Cookie": f"taskboard_access={user.token}"}
    async with websockets.connect(cluster.rt1.ws, additional_headers=headers) as by_cookie:
        first = json.loads(await by_cookie.recv())
        assert (first["type"], first["user_id"]) == ("authenticated", user.id)
        # It says when the token expires: the client sends a fresh `auth` before then.
        assert datetime.fromisoformat(first["expires_at"]) > datetime.now(UTC)
        await by_cookie.send(json.dumps({"type": "ping", "id": 7}))
        assert json.loads(await by_cookie.recv()) == {"type": "pong", "id": 7}
        await by_cookie.send(json.dumps({"type": "subscribe", "board_id": "nope"}))
        error = json.loads(await by_cookie.recv())
        assert error["type"] == "error"
        assert error["code"] == "bad_message"


async def test_outsider_viewer_and_removed_member(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "owner")
        viewer = await account(http, cluster.api1, "viewer")
        outsider = await account(http, cluster.api1, "outsider")
        board_id = await _board(http, cluster.api1, owner)
        added = await http.put(
            f"{cluster.api1.http}{API}/boards/{board_id}/members/{viewer.id}",
            json={"role": "viewer"},
            headers=owner.headers,
        )
        assert added.status_code == 200
        stranger = WsClient(cluster.rt1.ws, outsider.token)
        await stranger.connect()
        refused = await stranger.subscribe(board_id)
        assert refused == {"type": "error", "code": "not_found", "board_id": board_id}

        watcher = WsClient(cluster.rt2.ws, viewer.token)
        await watcher.connect()
        await watcher.subscribe(board_id)
        task = await http.post(
            f"{cluster.api2.http}{API}/boards/{board_id}/tasks",
            json={"title": "seen"},
            headers=owner.headers,
        )
        seen = await watcher.wait_for(lambda f: f.get("event") == "task.created")
        assert seen["data"]["task"]["id"] == task.json()["id"]
        write = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "nope"},
            headers=viewer.headers,
        )
        assert write.status_code == 403

        removed = await http.delete(
            f"{cluster.api1.http}{API}/boards/{board_id}/members/{viewer.id}",
            headers=owner.headers,
        )
        assert removed.status_code == 204
        ended = await watcher.wait_for(lambda f: f["type"] == "unsubscribed")
        assert ended == {"type": "unsubscribed", "board_id": board_id, "reason": "removed"}
        count = len(watcher.frames)
        await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "after removal"},
            headers=owner.headers,
        )
        again = await watcher.subscribe(board_id)
        assert again["type"] == "error"
        assert not [f for f in watcher.frames[count:] if f.get("event") == "task.created"], (
            "a removed member still received events"
        )
        for client in (stranger, watcher):
            await client.close()


async def test_presence_is_shared_across_pods(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        alice = await account(http, cluster.api1, "alice")
        bob = await account(http, cluster.api1, "bob")
        board_id = await _board(http, cluster.api1, alice)
        await http.put(
            f"{cluster.api1.http}{API}/boards/{board_id}/members/{bob.id}",
            json={"role": "member"},
            headers=alice.headers,
        )
    a, b = WsClient(cluster.rt1.ws, alice.token), WsClient(cluster.rt2.ws, bob.token)
    await a.connect()
    await a.subscribe(board_id)
    await a.wait_for(lambda f: f["type"] == "presence" and f["users"] == [alice.id])
    await b.connect()
    await b.subscribe(board_id)
    both = sorted([alice.id, bob.id])
    await a.wait_for(lambda f: f["type"] == "presence" and f["users"] == both)
    await b.wait_for(lambda f: f["type"] == "presence" and f["users"] == both)
    await b.close()
    await a.wait_for(
        lambda f: f["type"] == "presence" and f["users"] == [alice.id] and f is a.frames[-1]
    )
    await a.close()


class StalledClient:
    """A WebSocket client on a raw socket with a tiny receive buffer that stops reading."""

    def __init__(self, port: int, token: str, board_id: str) -> None:
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws"))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.handshake_exc is None and not self._opened():
            self.protocol.receive_data(self.sock.recv(4096))
        self.protocol.send_text(json.dumps({"type": "auth", "token": token}).encode())
        self.protocol.send_text(json.dumps({"type": "subscribe", "board_id": board_id}).encode())
        self._flush()

    def _opened(self) -> bool:
        return self.protocol.state is State.OPEN

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.sock.sendall(chunk)

    def read_close_code(self) -> int | None:
        self.sock.settimeout(30)
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                self.protocol.receive_eof()
            else:
                self.protocol.receive_data(data)
            for _ in self.protocol.events_received():
                pass
            if self.protocol.close_rcvd is not None:
                self.sock.close()
                return self.protocol.close_rcvd.code
            if not data:
                self.sock.close()
                return None


@pytest.mark.parametrize(
    "limits",
    [
        # Whichever comes first: 20 queued frames, or one write waiting 2 s.
        {"TASKBOARD_WS_SEND_QUEUE_SIZE": "20", "TASKBOARD_WS_SEND_TIMEOUT_SECONDS": "2"},
        # Only the byte cap can trip: 64 KiB is three of these 20 KB frames.
        {
            "TASKBOARD_WS_SEND_QUEUE_SIZE": "100000",
            "TASKBOARD_WS_SEND_QUEUE_BYTES": "65536",
            "TASKBOARD_WS_SEND_TIMEOUT_SECONDS": "600",
        },
    ],
    ids=["frames-or-stall", "bytes"],
)
async def test_slow_client_is_cut_off_without_delaying_others(
    cluster: Cluster, limits: dict[str, str]
) -> None:
    pod = start("realtime", "rt-small-queue", cluster.urls, **limits)
    try:
        wait_ready([pod])
        async with httpx.AsyncClient(timeout=30) as http:
            owner = await account(http, cluster.api1, "owner")
            board_id = await _board(http, cluster.api1, owner)
            fast = WsClient(pod.ws, owner.token)
            await fast.connect()
            await fast.subscribe(board_id)
            # The slow client sends its handshake, auth and subscribe, then never reads.
            slow = StalledClient(pod.port, owner.token, board_id)
            task = await http.post(
                f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
                json={"title": "big"},
                headers=owner.headers,
            )
            task_id = task.json()["id"]
            # ~6 MB: more than the kernel (4 MB) and transport buffers hold for one socket.
            updates = iter(range(300))

            async def update() -> None:
                for i in updates:
                    response = await http.patch(
                        f"{cluster.api1.http}{API}/tasks/{task_id}",
                        json={"description": f"{i:05d}" + "x" * 19_990},
                        headers=owner.headers,
                    )
                    assert response.status_code == 200

            await asyncio.gather(*[update() for _ in range(4)])
            final = 2 + 300  # board.created, task.created, the updates
            await fast.wait_until_seq(board_id, final, timeout=60)
            assert fast.close_code is None
            metrics = (await http.get(f"{pod.http}/metrics")).text
            assert "taskboard_ws_slow_consumer_disconnects_total 1.0" in metrics
        # Once it reads again it finds the documented close code after what was in flight.
        assert slow.read_close_code() == 4008
        await fast.close()
    finally:
        pod.kill()


async def test_sigterm_tells_clients_to_reconnect(cluster: Cluster) -> None:
    pod = start("realtime", "rt-draining", cluster.urls)
    try:
        wait_ready([pod])
        async with httpx.AsyncClient(timeout=30) as http:
            owner = await account(http, cluster.api1, "owner")
        client = WsClient(pod.ws, owner.token)
        await client.connect()
        pod.process.send_signal(signal.SIGTERM)
        assert await client.wait_closed() == 1012
        assert pod.process.wait(timeout=30) == 0
    finally:
        pod.kill()
