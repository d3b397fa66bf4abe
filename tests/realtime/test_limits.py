"""One user cannot take a pod's sockets or subscriptions for themselves."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.realtime.cluster import WsClient, account, start, wait_ready
from tests.realtime.conftest import Cluster
from tests.realtime.test_delivery import _board, _write


async def test_sockets_per_user_and_subscriptions_per_socket_are_bounded(
    cluster: Cluster,
) -> None:
    pod = start(
        "realtime",
        "rt-limits",
        cluster.urls,
        TASKBOARD_WS_MAX_SOCKETS_PER_USER="2",
        TASKBOARD_WS_MAX_SUBSCRIPTIONS="1",
    )
    try:
        wait_ready([pod])
        async with httpx.AsyncClient(timeout=30) as http:
            hog = await account(http, cluster.api1, "hog")
            other = await account(http, cluster.api1, "other")
            first_board = await _board(http, cluster.api1, hog)
            second_board = await _board(http, cluster.api1, hog)
        held = [WsClient(pod.ws, hog.token), WsClient(pod.ws, hog.token)]
        for client in held:
            await client.connect()
        async with websockets.connect(pod.ws) as third:
            await third.send(json.dumps({"type": "auth", "token": hog.token}))
            with pytest.raises(websockets.ConnectionClosed):
                await third.recv()
            assert third.close_code == 4009
        # Another user is not affected by the first one's sockets.
        bystander = WsClient(pod.ws, other.token)
        await bystander.connect()

        assert (await held[0].subscribe(first_board))["type"] == "subscribed"
        refused = await held[0].subscribe(second_board)
        assert (refused["type"], refused["code"], refused["limit"]) == (
            "error",
            "too_many_subscriptions",
            1,
        )
        # Resubscribing to the board it holds is a replacement, not one more.
        assert (await held[0].subscribe(first_board, since=0))["type"] == "subscribed"
        for client in (*held, bystander):
            await client.close()
        # Closing them frees their places (once the pod has seen them go).
        deadline = time.monotonic() + 30
        while True:
            async with websockets.connect(pod.ws) as again:
                await again.send(json.dumps({"type": "auth", "token": hog.token}))
                try:
                    assert json.loads(await again.recv())["type"] == "authenticated"
                    break
                except websockets.ConnectionClosed:
                    assert again.close_code == 4009
                    assert time.monotonic() < deadline, "closed sockets kept their places"
            await asyncio.sleep(0.1)
    finally:
        pod.kill()


async def test_a_long_replay_arrives_whole_and_in_order(cluster: Cluster) -> None:
    """Replay reads the log a page at a time (memory bounded by a page): across page
    boundaries nothing is lost, repeated or reordered."""
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "replayer")
        board_id = await _board(http, cluster.api1, owner)
        assert await _write(http, [cluster.api1], board_id, owner, 450) == 451
    client = WsClient(cluster.rt2.ws, owner.token)
    await client.connect()
    subscribed = await client.subscribe(board_id, since=0)
    assert subscribed["seq"] == 451
    await client.wait_until_seq(board_id, 451)
    assert client.seqs[board_id] == list(range(1, 452))
    await client.close()


async def test_a_subscribe_flood_takes_a_bounded_share_of_the_database(cluster: Cluster) -> None:
    """40 sockets subscribing from seq 0 at once used to take as many pooled connections as
    the pool had (other users' requests then failed); the pod now reads with at most
    TASKBOARD_WS_DB_CONCURRENCY connections, and everyone still gets their replay."""
    import asyncpg

    pod = start(
        "realtime",
        "rt-db-bound",
        cluster.urls,
        TASKBOARD_WS_DB_CONCURRENCY="2",
        TASKBOARD_WS_MAX_SOCKETS_PER_USER="100",
        TASKBOARD_SERVICE_NAME="rt-db-bound",
    )
    try:
        wait_ready([pod])
        async with httpx.AsyncClient(timeout=30) as http:
            owner = await account(http, cluster.api1, "flood")
            board_id = await _board(http, cluster.api1, owner)
            assert await _write(http, [cluster.api1], board_id, owner, 30) == 31
        clients = [WsClient(pod.ws, owner.token) for _ in range(40)]
        await asyncio.gather(*(c.connect() for c in clients))
        await asyncio.gather(
            *(c.send(type="subscribe", board_id=board_id, since=0) for c in clients)
        )
        await asyncio.gather(*(c.wait_until_seq(board_id, 31) for c in clients))
        assert all(c.seqs[board_id] == list(range(1, 32)) for c in clients)
        connection = await asyncpg.connect(cluster.urls.database_url)
        try:
            opened = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rt-db-bound'"
            )
        finally:
            await connection.close()
        # The pool keeps what it opened: at most the bound, plus one for /readyz.
        assert 1 <= opened <= 3, opened
        await asyncio.gather(*(c.close() for c in clients))
    finally:
        pod.kill()
