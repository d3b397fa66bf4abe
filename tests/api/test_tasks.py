from __future__ import annotations

from typing import Any

from tests.helpers import ApiClient, User

API = "/api/v1"


async def _board(api: ApiClient) -> tuple[User, dict[str, Any]]:
    owner = await api.user("owner")
    return owner, await api.board(owner)


async def _column(api: ApiClient, board_id: str, user: User, status: str) -> list[str]:
    snap = await api.request("GET", f"{API}/boards/{board_id}", headers=user.headers)
    return [t["title"] for t in snap.json()["tasks"] if t["status"] == status]


async def test_patch_with_stale_if_match_gets_412_and_current_task(api: ApiClient) -> None:
    owner, board = await _board(api)
    task = await api.task(board["id"], owner, title="v1")
    url = f"{API}/tasks/{task['id']}"
    first = await api.request(
        "PATCH", url, json={"title": "v2"}, headers={**owner.headers, "If-Match": '"1"'}
    )
    assert first.status_code == 200
    assert first.json()["version"] == 2
    assert first.headers["ETag"] == '"2"'
    stale = await api.request(
        "PATCH", url, json={"title": "lost"}, headers={**owner.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current"]["title"] == "v2"
    assert stale.json()["current"]["version"] == 2
    unchanged = await api.request("GET", url, headers=owner.headers)
    assert unchanged.json()["title"] == "v2"


async def test_stale_move_gets_412_with_the_current_task(api: ApiClient) -> None:
    owner, board = await _board(api)
    task = await api.task(board["id"], owner, title="v1")
    url = f"{API}/tasks/{task['id']}"
    renamed = await api.request("PATCH", url, json={"title": "v2"}, headers=owner.headers)
    assert renamed.status_code == 200
    stale = await api.request(
        "POST",
        f"{url}/move",
        json={"status": "done"},
        headers={**owner.headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    current = stale.json()["current"]
    assert (current["id"], current["title"], current["version"]) == (task["id"], "v2", 2)
    assert current["status"] == task["status"]
    unmoved = await api.request("GET", url, headers=owner.headers)
    assert unmoved.json()["status"] == task["status"]


async def test_patch_fields_and_nulls(api: ApiClient) -> None:
    owner, board = await _board(api)
    task = await api.task(board["id"], owner, due_at="2030-01-02T10:00:00Z", priority="high")
    url = f"{API}/tasks/{task['id']}"
    cleared = await api.request("PATCH", url, json={"due_at": None}, headers=owner.headers)
    assert cleared.status_code == 200
    assert cleared.json()["due_at"] is None
    assert cleared.json()["priority"] == "high"
    refused = await api.request("PATCH", url, json={"title": None}, headers=owner.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "field": "title",
        "rule": "not_null",
        "message": "must not be null",
    }


async def test_move_places_between_neighbours_without_renumbering(api: ApiClient) -> None:
    owner, board = await _board(api)
    b = board["id"]
    a, bb, c = [await api.task(b, owner, title=t) for t in "ABC"]
    assert await _column(api, b, owner, "todo") == ["A", "B", "C"]
    moved = await api.request(
        "POST",
        f"{API}/tasks/{c['id']}/move",
        json={"status": "todo", "after_id": a["id"]},
        headers=owner.headers,
    )
    assert moved.status_code == 200
    assert await _column(api, b, owner, "todo") == ["A", "C", "B"]
    # Neighbours kept their keys: a move writes one row.
    for original in (a, bb):
        now = await api.request("GET", f"{API}/tasks/{original['id']}", headers=owner.headers)
        assert now.json()["position"] == original["position"]
        assert now.json()["version"] == 1
    to_front = await api.request(
        "POST",
        f"{API}/tasks/{bb['id']}/move",
        json={"status": "todo", "before_id": a["id"]},
        headers=owner.headers,
    )
    assert to_front.status_code == 200
    assert await _column(api, b, owner, "todo") == ["B", "A", "C"]
    across = await api.request(
        "POST", f"{API}/tasks/{a['id']}/move", json={"status": "done"}, headers=owner.headers
    )
    assert across.json()["status"] == "done"
    assert await _column(api, b, owner, "done") == ["A"]
    events = await api.request("GET", f"{API}/boards/{b}/events", headers=owner.headers)
    last = events.json()["items"][-1]
    assert last["type"] == "task.moved"
    assert last["data"]["from_status"] == "todo"


async def test_move_into_another_column_anchor_is_refused(api: ApiClient) -> None:
    owner, board = await _board(api)
    a = await api.task(board["id"], owner, title="A")
    b = await api.task(board["id"], owner, title="B", status="done")
    response = await api.request(
        "POST",
        f"{API}/tasks/{a['id']}/move",
        json={"status": "todo", "after_id": b["id"]},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "after_id"


async def test_wip_limit_refuses_create_move_and_restore(api: ApiClient) -> None:
    owner, board = await _board(api)
    b = board["id"]
    limit = await api.request(
        "PATCH",
        f"{API}/boards/{b}/columns/in_progress",
        json={"wip_limit": 1},
        headers=owner.headers,
    )
    assert limit.json()["wip_limit"] == 1
    first = await api.task(b, owner, status="in_progress")
    over = await api.request(
        "POST",
        f"{API}/boards/{b}/tasks",
        json={"title": "x", "status": "in_progress"},
        headers=owner.headers,
    )
    assert over.status_code == 409
    assert over.json()["type"] == "/problems/wip-limit-exceeded"
    assert over.json()["wip_limit"] == 1
    other = await api.task(b, owner)
    move = await api.request(
        "POST",
        f"{API}/tasks/{other['id']}/move",
        json={"status": "in_progress"},
        headers=owner.headers,
    )
    assert move.status_code == 409
    # Reordering inside the full column is fine.
    same = await api.request(
        "POST",
        f"{API}/tasks/{first['id']}/move",
        json={"status": "in_progress"},
        headers=owner.headers,
    )
    assert same.status_code == 200
    await api.request("DELETE", f"{API}/tasks/{first['id']}", headers=owner.headers)
    await api.task(b, owner, status="in_progress")
    restore = await api.request("POST", f"{API}/tasks/{first['id']}/restore", headers=owner.headers)
    assert restore.status_code == 409


async def test_soft_delete_and_restore(api: ApiClient) -> None:
    owner, board = await _board(api)
    task = await api.task(board["id"], owner, title="Temp")
    url = f"{API}/tasks/{task['id']}"
    assert (await api.request("DELETE", url, headers=owner.headers)).status_code == 204
    assert await _column(api, board["id"], owner, "todo") == []
    gone = await api.request("GET", url, headers=owner.headers)
    assert gone.json()["deleted_at"] is not None
    trash = await api.request(
        "GET", f"{API}/boards/{board['id']}/tasks?deleted=true", headers=owner.headers
    )
    assert [t["id"] for t in trash.json()["items"]] == [task["id"]]
    edit = await api.request("PATCH", url, json={"title": "x"}, headers=owner.headers)
    assert edit.status_code == 409
    back = await api.request("POST", f"{url}/restore", headers=owner.headers)
    assert back.status_code == 200
    assert back.json()["deleted_at"] is None
    assert await _column(api, board["id"], owner, "todo") == ["Temp"]


async def test_list_filters(api: ApiClient) -> None:
    owner, board = await _board(api)
    b = board["id"]
    mate = await api.user("mate")
    await api.add_member(b, owner, mate, "member")
    bug = (
        await api.request(
            "POST", f"{API}/boards/{b}/labels", json={"name": "Bug"}, headers=owner.headers
        )
    ).json()
    await api.task(b, owner, title="Fix login crash", labels=[bug["id"]], assignee_ids=[mate.id])
    await api.task(b, owner, title="Write release notes", due_at="2030-05-01T00:00:00Z")
    await api.task(b, owner, title="Plan the crash test", status="done")

    async def titles(query: str) -> list[str]:
        response = await api.request(
            "GET", f"{API}/boards/{b}/tasks?{query}", headers=owner.headers
        )
        assert response.status_code == 200, response.text
        return sorted(t["title"] for t in response.json()["items"])

    assert await titles("q=crash") == ["Fix login crash", "Plan the crash test"]
    assert await titles("q=crash&status=todo") == ["Fix login crash"]
    assert await titles(f"label={bug['id']}") == ["Fix login crash"]
    assert await titles(f"assignee={mate.id}") == ["Fix login crash"]
    assert await titles("due_after=2030-04-01T00:00:00Z") == ["Write release notes"]
    assert await titles("due_before=2030-04-01T00:00:00Z") == []
    assert len(await titles("status=todo&status=done")) == 3


async def test_cursor_pagination_visits_every_task_once(api: ApiClient) -> None:
    owner, board = await _board(api)
    b = board["id"]
    created = [(await api.task(b, owner, title=f"T{i:02}"))["id"] for i in range(7)]
    for sort in ("position", "created_at", "-created_at", "due_at", "-updated_at"):
        seen: list[str] = []
        cursor = ""
        pages = 0
        while True:
            response = await api.request(
                "GET", f"{API}/boards/{b}/tasks?limit=3&sort={sort}{cursor}", headers=owner.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            seen += [t["id"] for t in page["items"]]
            pages += 1
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert sorted(seen) == sorted(created), sort
        assert len(seen) == len(set(seen))
        assert pages == 3
        if sort == "-created_at":
            assert seen == list(reversed(created))
    exact = await api.request("GET", f"{API}/boards/{b}/tasks?limit=7", headers=owner.headers)
    assert exact.json()["next_cursor"] is None
    assert len(exact.json()["items"]) == 7


async def test_columns_create_reorder_delete(api: ApiClient) -> None:
    owner, board = await _board(api)
    b = board["id"]
    review = await api.request(
        "POST",
        f"{API}/boards/{b}/columns",
        json={"name": "In review", "after_key": "in_progress"},
        headers=owner.headers,
    )
    assert review.status_code == 201
    assert review.json()["key"] == "in_review"

    async def keys() -> list[str]:
        cols = await api.request("GET", f"{API}/boards/{b}/columns", headers=owner.headers)
        return [c["key"] for c in cols.json()]

    assert await keys() == ["todo", "in_progress", "in_review", "done"]
    moved = await api.request(
        "POST",
        f"{API}/boards/{b}/columns/done/move",
        json={"before_key": "todo"},
        headers=owner.headers,
    )
    assert moved.status_code == 200
    assert await keys() == ["done", "todo", "in_progress", "in_review"]
    task = await api.task(b, owner, status="in_review")
    refused = await api.request(
        "DELETE", f"{API}/boards/{b}/columns/in_review", headers=owner.headers
    )
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "move_tasks_to"
    ok = await api.request(
        "DELETE", f"{API}/boards/{b}/columns/in_review?move_tasks_to=done", headers=owner.headers
    )
    assert ok.status_code == 204
    assert await keys() == ["done", "todo", "in_progress"]
    after = await api.request("GET", f"{API}/tasks/{task['id']}", headers=owner.headers)
    assert after.json()["status"] == "done"
    dup = await api.request(
        "POST",
        f"{API}/boards/{b}/columns",
        json={"name": "Todo", "key": "todo"},
        headers=owner.headers,
    )
    assert dup.status_code == 409


async def test_threaded_comments_by_author_only(api: ApiClient) -> None:
    owner, board = await _board(api)
    mate = await api.user("mate")
    await api.add_member(board["id"], owner, mate, "member")
    task = await api.task(board["id"], owner)
    url = f"{API}/tasks/{task['id']}/comments"
    root = (await api.request("POST", url, json={"body": "Root"}, headers=owner.headers)).json()
    reply = await api.request(
        "POST", url, json={"body": "Reply", "parent_id": root["id"]}, headers=mate.headers
    )
    assert reply.status_code == 201
    assert reply.json()["parent_id"] == root["id"]
    not_mine = await api.request(
        "PATCH", f"{API}/comments/{root['id']}", json={"body": "hijack"}, headers=mate.headers
    )
    assert not_mine.status_code == 403
    edited = await api.request(
        "PATCH", f"{API}/comments/{root['id']}", json={"body": "Root!"}, headers=owner.headers
    )
    assert edited.json()["body"] == "Root!"
    assert edited.json()["edited_at"] is not None
    deleted = await api.request(
        "DELETE", f"{API}/comments/{reply.json()['id']}", headers=mate.headers
    )
    assert deleted.status_code == 204
    listing = (await api.request("GET", url, headers=owner.headers)).json()["items"]
    assert [(c["body"], c["deleted_at"] is not None) for c in listing] == [
        ("Root!", False),
        ("", True),
    ]
