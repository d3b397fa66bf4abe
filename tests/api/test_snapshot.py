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
    key = f"tb:snapshot:{b}:{seq}"
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
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner, priority="urgent", assignee_ids=[owner.id])
    snap = await api.request("GET", f"{API}/boards/{board['id']}", headers=owner.headers)
    one = await api.request("GET", f"{API}/tasks/{task['id']}", headers=owner.headers)
    assert snap.json()["tasks"] == [one.json()]
    assert [m["user_id"] for m in snap.json()["members"]] == [owner.id]
