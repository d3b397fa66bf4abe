"""A socket lives no longer than its session: logout (on any api pod) closes it on every
realtime pod with 4003, and an expired token closes it with 4004 unless the client sent a
fresh one first."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import websockets

from taskboard.core.security import ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_AUDIENCE
from tests.conftest import TEST_SECRET
from tests.realtime.cluster import WsClient
from tests.realtime.conftest import Cluster

API = "/api/v1"
PASSWORD = "password123"


async def _register(http: httpx.AsyncClient, cluster: Cluster) -> tuple[str, str]:
    email = f"sessions-{time.monotonic_ns()}@example.com"
    created = await http.post(
        f"{cluster.api1.http}{API}/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": "S"},
    )
    assert created.status_code == 201, created.text
    return created.json()["id"], email


async def _login(http: httpx.AsyncClient, cluster: Cluster, email: str) -> dict[str, Any]:
    login = await http.post(
        f"{cluster.api2.http}{API}/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    tokens: dict[str, Any] = login.json()
    return tokens


async def test_logout_closes_that_sessions_sockets_on_every_pod(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        _, email = await _register(http, cluster)
        laptop, phone = await _login(http, cluster, email), await _login(http, cluster, email)
        on_rt1 = WsClient(cluster.rt1.ws, laptop["access_token"])
        on_rt2 = WsClient(cluster.rt2.ws, laptop["access_token"])
        other_session = WsClient(cluster.rt2.ws, phone["access_token"])
        for client in (on_rt1, on_rt2, other_session):
            await client.connect()
        out = await http.post(
            f"{cluster.api1.http}{API}/auth/logout",
            json={"refresh_token": laptop["refresh_token"]},
        )
        assert out.status_code == 204
        assert await on_rt1.wait_closed() == 4003
        assert await on_rt2.wait_closed() == 4003
        # The phone's session is untouched: its socket still answers.
        await other_session.send(type="ping", id="still-here")
        pong = await other_session.wait_for(lambda f: f["type"] == "pong")
        assert pong["id"] == "still-here"
        assert other_session.close_code is None
        # A new socket with the ended session's token is refused.
        async with websockets.connect(cluster.rt1.ws) as refused:
            await refused.send(json.dumps({"type": "auth", "token": laptop["access_token"]}))
            with pytest.raises(websockets.ConnectionClosed):
                await refused.recv()
            assert refused.close_code == 4001
        await other_session.close()


def _token(user_id: str, expires_in: float) -> str:
    claims = {
        "sub": user_id,
        "sid": str(uuid.uuid4()),
        "aud": ACCESS_TOKEN_AUDIENCE,
        "role": "user",
        "exp": datetime.now(UTC) + timedelta(seconds=expires_in),
    }
    return jwt.encode(claims, TEST_SECRET, ACCESS_TOKEN_ALGORITHM)


async def test_an_expired_token_closes_its_socket_unless_renewed(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        user_id, email = await _register(http, cluster)
        fresh = (await _login(http, cluster, email))["access_token"]
    lapsing = WsClient(cluster.rt1.ws, _token(user_id, 3))
    renewed = WsClient(cluster.rt1.ws, _token(user_id, 3))
    await lapsing.connect()
    await renewed.connect()
    await renewed.send(type="auth", token=fresh)
    again = await renewed.wait_for(lambda f: f["type"] == "authenticated")
    assert datetime.fromisoformat(again["expires_at"]) > datetime.now(UTC) + timedelta(minutes=1)
    assert await lapsing.wait_closed(timeout=30) == 4004
    # Well past the first token's expiry, the renewed socket still answers.
    await renewed.send(type="ping", id="after-expiry")
    pong = await renewed.wait_for(lambda f: f["type"] == "pong" and f["id"] == "after-expiry")
    assert pong["id"] == "after-expiry"
    assert renewed.close_code is None
    # Someone else's token cannot take a socket over.
    async with httpx.AsyncClient(timeout=30) as http:
        _, other_email = await _register(http, cluster)
        intruder = (await _login(http, cluster, other_email))["access_token"]
    await renewed.send(type="auth", token=intruder)
    refused = await renewed.wait_for(lambda f: f["type"] == "error")
    assert refused["code"] == "wrong_user"
    await renewed.close()


async def test_a_page_on_another_site_cannot_use_the_session_cookie(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        _, email = await _register(http, cluster)
        token = (await _login(http, cluster, email))["access_token"]
    cookie = {"Cookie": f"taskboard_access={token}"}
    own_host = cluster.rt1.ws.split("//", 1)[1].split("/", 1)[0]
    async with websockets.connect(
        cluster.rt1.ws, additional_headers={**cookie, "Origin": f"http://{own_host}"}
    ) as same_site:
        assert json.loads(await same_site.recv())["type"] == "authenticated"
    async with websockets.connect(
        cluster.rt1.ws, additional_headers={**cookie, "Origin": "https://evil.example"}
    ) as cross_site:
        # The cookie is ignored: the socket waits for an auth frame the page cannot forge.
        with pytest.raises(websockets.ConnectionClosed):
            await cross_site.recv()
        assert cross_site.close_code == 4002


async def test_a_since_ahead_of_the_board_gets_resync(cluster: Cluster) -> None:
    """A client holding seqs from another history (a server restored from a backup, say) must
    not be trusted to have them: it is told to reload instead of silently waiting."""
    async with httpx.AsyncClient(timeout=30) as http:
        _, email = await _register(http, cluster)
        tokens = await _login(http, cluster, email)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        board = await http.post(
            f"{cluster.api1.http}{API}/boards", json={"name": "B"}, headers=headers
        )
        assert board.status_code == 201
        board_id = board.json()["id"]
        client = WsClient(cluster.rt1.ws, tokens["access_token"])
        await client.connect()
        subscribed = await client.subscribe(board_id, since=500)
        assert subscribed["type"] == "subscribed"
        resync = await client.wait_for(lambda f: f["type"] == "resync")
        assert resync["board_id"] == board_id
        # And live events after the board's real seq still arrive.
        created = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "t"},
            headers=headers,
        )
        assert created.status_code == 201
        await client.wait_until_seq(board_id, subscribed["seq"] + 1)
        await client.close()


async def test_a_since_from_another_epoch_gets_resync(cluster: Cluster) -> None:
    """seq 3 of a restored database is not the seq 3 the client saw: the epoch says which
    history a seq counts in, and `taskboard rotate-epochs` starts a new one."""
    async with httpx.AsyncClient(timeout=30) as http:
        _, email = await _register(http, cluster)
        tokens = await _login(http, cluster, email)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        board = await http.post(
            f"{cluster.api1.http}{API}/boards", json={"name": "E"}, headers=headers
        )
        board_id = board.json()["id"]
        snapshot = (
            await http.get(f"{cluster.api1.http}{API}/boards/{board_id}", headers=headers)
        ).json()
    client = WsClient(cluster.rt1.ws, tokens["access_token"])
    await client.connect()
    same = await client.subscribe(board_id, since=snapshot["seq"])
    assert same["epoch"] == snapshot["epoch"]
    mark = len(client.frames)
    await client.send(
        type="subscribe", board_id=board_id, since=snapshot["seq"], epoch="0123456789ab"
    )
    other = await client.wait_for(lambda f: f["type"] == "subscribed", after=mark)
    resync = await client.wait_for(
        lambda f: f["type"] == "resync", after=client.frames.index(other)
    )
    assert resync["board_id"] == board_id
    assert not [f for f in client.frames[: client.frames.index(other)] if f["type"] == "resync"]
    await client.close()


async def test_a_member_removed_while_subscribing_gets_nothing_after_the_removal(
    cluster: Cluster,
) -> None:
    """Subscribe races DELETE .../members/{uid}: whichever wins, nothing written after the
    removal reaches the removed member (once 5 of 60 trials kept a live feed)."""
    async with httpx.AsyncClient(timeout=30) as http:
        _, owner_email = await _register(http, cluster)
        owner = await _login(http, cluster, owner_email)
        member_id, member_email = await _register(http, cluster)
        member = await _login(http, cluster, member_email)
        owner_headers = {"Authorization": f"Bearer {owner['access_token']}"}
        watcher = WsClient(cluster.rt1.ws, owner["access_token"])
        removed = WsClient(cluster.rt1.ws, member["access_token"])
        await watcher.connect()
        await removed.connect()
        for trial in range(20):
            board = await http.post(
                f"{cluster.api1.http}{API}/boards",
                json={"name": f"R{trial}"},
                headers=owner_headers,
            )
            board_id = board.json()["id"]
            added = await http.put(
                f"{cluster.api1.http}{API}/boards/{board_id}/members/{member_id}",
                json={"role": "viewer"},
                headers=owner_headers,
            )
            assert added.status_code == 200
            await watcher.subscribe(board_id)
            mark = len(removed.frames)

            async def subscribe_a_little_later(delay: float, b: str = board_id) -> None:
                # Trials sweep the subscribe across the removal's way to the pod (its commit,
                # the stream, the feed), where the check and the starting seq once disagreed.
                await asyncio.sleep(delay)
                await removed.send(type="subscribe", board_id=b)

            _, deleted = await asyncio.gather(
                subscribe_a_little_later(trial * 0.002),
                http.delete(
                    f"{cluster.api2.http}{API}/boards/{board_id}/members/{member_id}",
                    headers=owner_headers,
                ),
            )
            assert deleted.status_code == 204
            after = await http.post(
                f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
                json={"title": "after the removal"},
                headers=owner_headers,
            )
            assert after.status_code == 201
            await watcher.wait_for(
                lambda f, b=board_id: (
                    f["type"] == "event" and f["board_id"] == b and f["event"] == "task.created"
                )
            )
            # The pong comes after anything the pod queued for this socket before it.
            await removed.send(type="ping", id=f"trial-{trial}")
            await removed.wait_for(
                lambda f, t=trial: f["type"] == "pong" and f["id"] == f"trial-{t}", after=mark
            )
            leaked = [
                f
                for f in removed.frames[mark:]
                if f["type"] == "event"
                and f["board_id"] == board_id
                and f["event"] == "task.created"
            ]
            assert leaked == [], f"trial {trial}: a removed member got {leaked}"
        await watcher.close()
        await removed.close()
