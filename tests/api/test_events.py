from __future__ import annotations

import asyncio

import pytest

from tests.helpers import ApiClient

API = "/api/v1"


@pytest.mark.committed
async def test_concurrent_creates_get_gap_free_seq_in_order(committed_api: ApiClient) -> None:
    api = committed_api
    owner = await api.user("owner")
    mate = await api.user("mate")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, mate, "member")
    start = (await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)).json()["seq"]
    writers = [owner, mate]
    responses = await asyncio.gather(
        *[
            api.request(
                "POST",
                f"{API}/boards/{b}/tasks",
                json={"title": f"task {i}"},
                headers=writers[i % 2].headers,
            )
            for i in range(200)
        ]
    )
    assert [r.status_code for r in responses].count(201) == 200
    events, after = [], start
    while True:
        page = await api.request(
            "GET", f"{API}/boards/{b}/events?after={after}&limit=200", headers=owner.headers
        )
        events += page.json()["items"]
        if page.json()["next_after"] is None:
            break
        after = page.json()["next_after"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(start + 1, start + 201))
    assert {e["type"] for e in events} == {"task.created"}
    created_ids = {r.json()["id"] for r in responses}
    assert {e["data"]["task"]["id"] for e in events} == created_ids
    snapshot = (await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)).json()
    assert snapshot["seq"] == seqs[-1]
    assert len(snapshot["tasks"]) == 200
    positions = [t["position"] for t in snapshot["tasks"]]
    assert len(set(positions)) == 200  # the board lock kept every append distinct


async def test_event_log_records_every_kind_of_change(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    b = board["id"]
    task = await api.task(b, owner)
    await api.request(
        "PATCH", f"{API}/tasks/{task['id']}", json={"title": "T"}, headers=owner.headers
    )
    await api.request("DELETE", f"{API}/tasks/{task['id']}", headers=owner.headers)
    await api.request("POST", f"{API}/tasks/{task['id']}/restore", headers=owner.headers)
    await api.request("PATCH", f"{API}/boards/{b}", json={"name": "B2"}, headers=owner.headers)
    page = (await api.request("GET", f"{API}/boards/{b}/events", headers=owner.headers)).json()
    assert [(e["seq"], e["type"]) for e in page["items"]] == [
        (1, "board.created"),
        (2, "task.created"),
        (3, "task.updated"),
        (4, "task.deleted"),
        (5, "task.restored"),
        (6, "board.updated"),
    ]
    assert page["last_seq"] == 6
    assert all(e["actor_id"] == owner.id for e in page["items"])
    tail = (
        await api.request("GET", f"{API}/boards/{b}/events?after=4&limit=1", headers=owner.headers)
    ).json()
    assert [e["seq"] for e in tail["items"]] == [5]
    assert tail["next_after"] == 5


async def test_failed_write_leaves_no_event_and_no_gap(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    b = board["id"]
    bad = await api.request(
        "POST",
        f"{API}/boards/{b}/tasks",
        json={"title": "x", "status": "nope"},
        headers=owner.headers,
    )
    assert bad.status_code == 404
    await api.task(b, owner)
    page = (await api.request("GET", f"{API}/boards/{b}/events", headers=owner.headers)).json()
    assert [e["seq"] for e in page["items"]] == [1, 2]
