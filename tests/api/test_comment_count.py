"""TaskRead.comment_count: live comments on the task, kept by comment create and delete, never
a change of the task's own version."""

from __future__ import annotations

from typing import Any

from tests.api.problems import assert_problem
from tests.helpers import ApiClient, User

API = "/api/v1"


async def _task(api: ApiClient, task_id: str, user: User) -> dict[str, Any]:
    response = await api.request("GET", f"{API}/tasks/{task_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{response.json()["version"]}"'
    body: dict[str, Any] = response.json()
    return body


async def _comment(
    api: ApiClient, task_id: str, user: User, parent_id: str | None = None
) -> dict[str, Any]:
    response = await api.request(
        "POST",
        f"{API}/tasks/{task_id}/comments",
        json={"body": "words", **({"parent_id": parent_id} if parent_id else {})},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_count_follows_live_comments_and_leaves_the_version_alone(
    api: ApiClient,
) -> None:
    owner, mate = await api.user("owner"), await api.user("mate")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, mate, "member")
    task = await api.task(b, owner)
    other = await api.task(b, owner, title="Other")
    assert task["comment_count"] == 0
    before = await _task(api, task["id"], owner)

    root = await _comment(api, task["id"], owner)
    reply = await _comment(api, task["id"], mate, parent_id=root["id"])
    await _comment(api, other["id"], mate)
    after = await _task(api, task["id"], owner)
    assert after["comment_count"] == 2  # replies are comments on the task too
    # Nothing else about the task changed: If-Match holds, updated_at stays.
    assert {k: v for k, v in after.items() if k != "comment_count"} == {
        k: v for k, v in before.items() if k != "comment_count"
    }
    edited = await api.request(
        "PATCH", f"{API}/comments/{root['id']}", json={"body": "more"}, headers=owner.headers
    )
    assert edited.status_code == 200
    assert (await _task(api, task["id"], owner))["comment_count"] == 2

    gone = await api.request("DELETE", f"{API}/comments/{reply['id']}", headers=mate.headers)
    assert gone.status_code == 204
    twice = await api.request("DELETE", f"{API}/comments/{reply['id']}", headers=mate.headers)
    assert_problem(twice, 404)
    assert (await _task(api, task["id"], owner))["comment_count"] == 1
    assert (await _task(api, other["id"], owner))["comment_count"] == 1

    # Every read of the task says the same: the list, the snapshot, the task's own events.
    listed = await api.request("GET", f"{API}/boards/{b}/tasks", headers=owner.headers)
    counts = {t["id"]: t["comment_count"] for t in listed.json()["items"]}
    assert counts == {task["id"]: 1, other["id"]: 1}
    snapshot = await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)
    assert {t["id"]: t["comment_count"] for t in snapshot.json()["tasks"]} == counts
    patched = await api.request(
        "PATCH",
        f"{API}/tasks/{task['id']}",
        json={"title": "Renamed"},
        headers={**owner.headers, "If-Match": f'"{before["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["comment_count"] == 1
    assert patched.json()["version"] == before["version"] + 1


async def test_comment_events_name_their_task(api: ApiClient) -> None:
    """What a client adjusts the count from: every comment event carries task_id."""
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    comment = await _comment(api, task["id"], owner)
    await api.request(
        "PATCH", f"{API}/comments/{comment['id']}", json={"body": "e"}, headers=owner.headers
    )
    await api.request("DELETE", f"{API}/comments/{comment['id']}", headers=owner.headers)
    log = await api.request(
        "GET", f"{API}/boards/{board['id']}/events", params={"after": 2}, headers=owner.headers
    )
    assert [(e["type"], e["data"]["task_id"]) for e in log.json()["items"]] == [
        ("comment.created", task["id"]),
        ("comment.updated", task["id"]),
        ("comment.deleted", task["id"]),
    ]


async def test_a_refused_comment_counts_nothing_and_the_trash_keeps_its_count(
    api: ApiClient,
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    other = await api.task(board["id"], owner, title="Other")
    elsewhere = await _comment(api, other["id"], owner)
    kept = await _comment(api, task["id"], owner)
    dropped = await _comment(api, task["id"], owner)
    refused = await api.request(
        "POST",
        f"{API}/tasks/{task['id']}/comments",
        json={"body": "x", "parent_id": elsewhere["id"]},
        headers=owner.headers,
    )
    assert_problem(refused, 422, "parent_id", "same_task")
    assert (await _task(api, task["id"], owner))["comment_count"] == 2

    trashed = await api.request("DELETE", f"{API}/tasks/{task['id']}", headers=owner.headers)
    assert trashed.status_code == 204
    # A comment deleted while its task is in the trash is no longer counted either.
    gone = await api.request("DELETE", f"{API}/comments/{dropped['id']}", headers=owner.headers)
    assert gone.status_code == 204
    in_trash = await api.request(
        "GET", f"{API}/boards/{board['id']}/tasks?deleted=true", headers=owner.headers
    )
    assert [(t["id"], t["comment_count"]) for t in in_trash.json()["items"]] == [(task["id"], 1)]
    restored = await api.request("POST", f"{API}/tasks/{task['id']}/restore", headers=owner.headers)
    assert restored.json()["comment_count"] == 1
    assert kept["task_id"] == task["id"]
