"""Webhooks through real processes to a real HTTP receiver: signed as Standard Webhooks says
(checked with its reference library), in seq order per endpoint, retried with the same
webhook-id, never following a redirect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.fixtures.receiver import Received, Receiver
from tests.helpers import eventually
from tests.realtime.cluster import Account, account
from tests.realtime.conftest import Cluster

API = "/api/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


async def _until(receiver: Receiver, count: int, timeout: float = 60) -> list[Received]:
    async def received() -> list[Received]:
        with receiver.lock:
            return list(receiver.requests)

    return await eventually(received, lambda got: len(got) >= count, timeout=timeout)


async def _hook(
    http: httpx.AsyncClient, cluster: Cluster, owner: Account, board_id: str, url: str
) -> dict[str, Any]:
    created = await http.post(
        f"{cluster.api1.http}{API}/boards/{board_id}/webhooks",
        json={"url": url, "events": ["task.created"]},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    hook: dict[str, Any] = created.json()
    return hook


async def test_deliveries_are_signed_ordered_and_retried_with_the_same_id(
    cluster: Cluster, receiver: Receiver
) -> None:
    receiver.script = [503]  # the first try fails
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        board = await http.post(
            f"{cluster.api1.http}{API}/boards", json={"name": "Hooked"}, headers=owner.headers
        )
        board_id = board.json()["id"]
        hook = await _hook(http, cluster, owner, board_id, receiver.url)
        assert hook["secret"].startswith("whsec_")
        titles = ["first", "second", "third"]
        for title in titles:
            made = await http.post(
                f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
                json={"title": title},
                headers=owner.headers,
            )
            assert made.status_code == 201, made.text
        # 503, then (5 s later, per the schedule) the same delivery again, then the rest.
        got = await _until(receiver, 4)
        assert len(got) == 4, [r.body for r in got]
        verifier = Webhook(hook["secret"])
        bodies = [verifier.verify(r.body, r.headers) for r in got]
        assert [b["data"]["event"]["task"]["title"] for b in bodies] == ["first", *titles]
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
        assert len({r.headers["webhook-id"] for r in got}) == 3
        seqs = [b["data"]["seq"] for b in bodies[1:]]
        assert seqs == sorted(seqs)
        assert all(
            b["type"] == "task.created" and b["data"]["board_id"] == board_id for b in bodies
        )
        deliveries = await http.get(
            f"{cluster.api1.http}{API}/webhooks/{hook['id']}/deliveries", headers=owner.headers
        )
        items = deliveries.json()["items"]
        assert sorted((d["state"], d["attempts"]) for d in items) == [
            ("delivered", 1),
            ("delivered", 1),
            ("delivered", 2),
        ]
        # Another board's events, and event types not asked for, are not sent.
        await http.patch(
            f"{cluster.api1.http}{API}/tasks/{json.loads(got[-1].body)['data']['event']['task']['id']}",
            json={"title": "renamed"},
            headers=owner.headers,
        )
        await asyncio.sleep(1.5)
        assert len(receiver.requests) == 4


async def test_a_redirect_is_not_followed(cluster: Cluster, receiver: Receiver) -> None:
    receiver.script = [302] * 5  # to the metadata address
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        board = await http.post(
            f"{cluster.api1.http}{API}/boards", json={"name": "Redirected"}, headers=owner.headers
        )
        board_id = board.json()["id"]
        hook = await _hook(http, cluster, owner, board_id, receiver.url)
        made = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "x"},
            headers=owner.headers,
        )
        assert made.status_code == 201
        [only] = await _until(receiver, 1)
        await asyncio.sleep(1)
        assert len(receiver.requests) == 1  # not followed, and the retry waits 5 s
        deliveries = await http.get(
            f"{cluster.api1.http}{API}/webhooks/{hook['id']}/deliveries", headers=owner.headers
        )
        [delivery] = deliveries.json()["items"]
        assert (delivery["state"], delivery["last_status"]) == ("pending", 302)
        assert only.path == "/hooks"


async def test_a_gone_receiver_disables_the_endpoint_and_its_admin_is_told(
    cluster: Cluster, receiver: Receiver
) -> None:
    receiver.script = [410]
    async with httpx.AsyncClient(timeout=30) as http:
        owner = await account(http, cluster.api1, "Owner")
        board = await http.post(
            f"{cluster.api1.http}{API}/boards", json={"name": "Gone"}, headers=owner.headers
        )
        board_id = board.json()["id"]
        hook = await _hook(http, cluster, owner, board_id, receiver.url)
        made = await http.post(
            f"{cluster.api1.http}{API}/boards/{board_id}/tasks",
            json={"title": "x"},
            headers=owner.headers,
        )
        assert made.status_code == 201, made.text

        async def told() -> list[dict[str, Any]]:
            listed = await http.get(
                f"{cluster.api2.http}{API}/notifications", headers=owner.headers
            )
            return [n for n in listed.json()["items"] if n["kind"] == "webhook_disabled"]

        [notice] = await eventually(told, bool)
        assert notice["board_id"] == board_id
        assert notice["data"]["webhook_id"] == hook["id"]
        assert notice["data"]["excerpt"] == "the receiver answered 410 Gone"
        listed = await http.get(
            f"{cluster.api1.http}{API}/boards/{board_id}/webhooks", headers=owner.headers
        )
        [endpoint] = listed.json()["items"]
        assert (endpoint["enabled"], endpoint["disabled_reason"]) == (
            False,
            "the receiver answered 410 Gone",
        )

        async def inbox() -> list[Any]:
            return cluster.smtp.inbox.to(owner.email)

        [message] = await eventually(inbox, bool)
        assert message["Subject"] == f"Webhook disabled: {receiver.url}"
        assert len(receiver.requests) == 1
