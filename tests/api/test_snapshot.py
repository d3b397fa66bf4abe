from __future__ import annotations

import json

from redis.asyncio import Redis

from tests.helpers import ApiClient

API = "/api/v1"


async def test_snapshot_is_served_from_redis_until_the_next_write(
    api: ApiClient, redis: Redis
) -> None:
    owner = await api.user("owner")
    viewer = await api.user("viewer")
    board = await api.board(owner, name="Real")
    b = board["id"]
    await api.add_member(b, owner, viewer, "viewer")
    first = await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)
    seq = first.json()["seq"]
    key = f"tb:snapshot:{b}:{first.json()['epoch']}:{seq}"
    cached = json.loads(await redis.get(key))
    assert "role" not in cached  # shared by every caller
    assert cached["seq"] == seq
    # Prove the next read comes from Redis: change the cached copy.
    await redis.set(key, json.dumps({**cached, "name": "From cache"}))
    hit = await api.request("GET", f"{API}/boards/{b}", headers=viewer.headers)
    assert hit.json()["name"] == "From cache"
    assert hit.json()["role"] == "viewer"
    # A write bumps seq: the stale entry is never read again.
    await api.task(b, owner)
    fresh = await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)
    assert fresh.json()["seq"] == seq + 1
    assert fresh.json()["name"] == "Real"
    assert fresh.json()["role"] == "owner"
    assert len(fresh.json()["tasks"]) == 1


async def test_snapshot_tasks_match_the_task_endpoint(api: ApiClient) -> None:
    """PostgreSQL builds the snapshot's task array; it must be the JSON GET /tasks/{id} gives."""
    owner = await api.user("owner")
    mate = await api.user("mate")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, mate, "member")
    labels = [
        (
            await api.request(
                "POST", f"{API}/boards/{b}/labels", json={"name": n}, headers=owner.headers
            )
        ).json()["id"]
        for n in ("bug", "ux")
    ]
    tasks = [
        await api.task(
            b,
            owner,
            title='Quotes " \\ and ünïcödé ✓\nnew line',
            description="<b>html</b>\t tab",
            priority="urgent",
            assignee_ids=[mate.id, owner.id],
            labels=list(reversed(labels)),
            start_at="2030-01-02T10:00:00Z",  # whole seconds: no fraction, as pydantic writes
            due_at="2030-01-03T10:00:00.123456+02:00",  # not UTC
        ),
        await api.task(b, owner, title="Plain", status="done"),
        await api.task(b, owner, title="Gone"),
    ]
    await api.request("DELETE", f"{API}/tasks/{tasks[2]['id']}", headers=owner.headers)
    for body in ("one", "two"):  # comment_count is built by PostgreSQL too
        await api.request(
            "POST",
            f"{API}/tasks/{tasks[0]['id']}/comments",
            json={"body": body},
            headers=mate.headers,
        )
    snap = await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)
    expected = [
        (await api.request("GET", f"{API}/tasks/{t['id']}", headers=owner.headers)).json()
        for t in tasks[:2]
    ]
    assert snap.json()["tasks"] == sorted(expected, key=lambda t: (t["status"], t["position"]))
    assert expected[0]["due_at"] == "2030-01-03T08:00:00.123456Z"
    assert expected[0]["start_at"] == "2030-01-02T10:00:00Z"
    assert [t["comment_count"] for t in expected] == [2, 0]
    assert [m["user_id"] for m in snap.json()["members"]] == [owner.id, mate.id]
