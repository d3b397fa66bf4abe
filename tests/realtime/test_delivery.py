"""Every event to every subscribed client, from any pod, exactly once and in order."""

from __future__ import annotations

import asyncio
import itertools
import signal

import httpx
from redis.asyncio import Redis

from tests.realtime.cluster import Account, Pod, WsClient, account, start, wait_ready
from tests.realtime.conftest import Cluster

API = "/api/v1"


async def _board(http: httpx.AsyncClient, api: Pod, owner: Account) -> str:
    response = await http.post(
        f"{api.http}{API}/boards", json={"name": "Live"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    board_id: str = response.json()["id"]
    return board_id


async def _write(
    http: httpx.AsyncClient,
    apis: list[Pod],
    board_id: str,
    owner: Account,
    count: int,
    concurrency: int = 4,
) -> int:
    """Create `count` tasks spread over `apis`; returns the board's final seq."""
    turn = itertools.cycle(apis)
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            api = next(turn)
            response = await http.post(
                f"{api.http}{API}/boards/{board_id}/tasks",
                json={"title": f"task {i}"},
                headers=owner.headers,
            )
            assert response.status_code == 201, response.text

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    snapshot = await http.get(f"{apis[0].http}{API}/boards/{board_id}", headers=owner.headers)
    seq: int = snapshot.json()["seq"]
    return seq


def assert_contiguous(seqs: list[int], first: int, last: int) -> None:
    assert seqs == list(range(first, last + 1)), (
        f"{len(seqs)} events; duplicates={len(seqs) - len(set(seqs))}; "
        f"missing={sorted(set(range(first, last + 1)) - set(seqs))[:10]}"
    )


async def test_clients_on_two_pods_get_every_event_from_both_apis(cluster: Cluster) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "owner")
        board_id = await _board(http, cluster.api1, owner)
        a, b = WsClient(cluster.rt1.ws, owner.token), WsClient(cluster.rt2.ws, owner.token)
        await a.connect()
        await b.connect()
        assert (await a.subscribe(board_id, since=0))["seq"] == 1
        await b.subscribe(board_id, since=0)
        last = await _write(http, [cluster.api1, cluster.api2], board_id, owner, 120)
        for client in (a, b):
            await client.wait_until_seq(board_id, last)
            assert_contiguous(client.seqs[board_id], 1, last)
            await client.close()


async def _pod_goes_away_while_writes_go_on(
    cluster: Cluster, how: signal.Signals, close_code: int, *, total: int, at_seq: int
) -> None:
    """Three clients on a pod of their own; `how` ends that pod while `total` creates go on;
    each client, closed with `close_code`, resumes on another pod from its last seq and must
    see every event exactly once, in order."""
    pod = start("realtime", f"rt-{how.name.lower()}", cluster.urls)
    try:
        wait_ready([pod])
        async with httpx.AsyncClient(timeout=30) as http:
            owner = await account(http, cluster.api1, "owner")
            board_id = await _board(http, cluster.api1, owner)
            clients = [WsClient(pod.ws, owner.token) for _ in range(3)]
            for client in clients:
                await client.connect()
                await client.subscribe(board_id, since=0)
            writer = asyncio.create_task(
                _write(http, [cluster.api1, cluster.api2], board_id, owner, total)
            )
            await clients[0].wait_until_seq(board_id, at_seq)
            pod.process.send_signal(how)
            for client in clients:
                assert await client.wait_closed() == close_code
                client.url = cluster.rt2.ws
                await client.connect()
                await client.subscribe(board_id, since=client.seqs[board_id][-1])
            if how == signal.SIGTERM:
                assert await asyncio.to_thread(pod.process.wait, 30) == 0
            last = await writer
            assert last == total + 1
            for client in clients:
                await client.wait_until_seq(board_id, last, timeout=120)
                assert_contiguous(client.seqs[board_id], 1, last)
                await client.close()
    finally:
        pod.kill()


async def test_killed_pod_clients_resume_on_another_pod_without_gap(cluster: Cluster) -> None:
    """kill -9: the sockets just drop (1006)."""
    await _pod_goes_away_while_writes_go_on(cluster, signal.SIGKILL, 1006, total=2000, at_seq=300)


async def test_drained_pod_clients_reconnect_to_another_without_gap(cluster: Cluster) -> None:
    """A rollout's SIGTERM: the pod stops taking sockets (readiness fails), tells its clients
    to reconnect (1012), and exits cleanly."""
    await _pod_goes_away_while_writes_go_on(cluster, signal.SIGTERM, 1012, total=1500, at_seq=200)


async def test_relay_delivers_when_the_fast_path_is_off_and_redis_is_flushed(
    cluster: Cluster,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "owner")
        board_id = await _board(http, cluster.api_no_fast_path, owner)
        client = WsClient(cluster.rt1.ws, owner.token)
        await client.connect()
        await client.subscribe(board_id, since=0)
        # Only the relay can bring these to Redis.
        last = await _write(http, [cluster.api_no_fast_path], board_id, owner, 20)
        await client.wait_until_seq(board_id, last, timeout=30)
        writer = asyncio.create_task(
            _write(http, [cluster.api1, cluster.api_no_fast_path], board_id, owner, 150)
        )
        await client.wait_until_seq(board_id, last + 30, timeout=30)
        redis = Redis.from_url(cluster.urls.redis_url)
        await redis.flushdb()  # streams, consumer groups and watermarks are gone mid-run
        await redis.aclose()
        last = await writer
        await client.wait_until_seq(board_id, last, timeout=60)
        assert_contiguous(client.seqs[board_id], 1, last)
        await client.close()
