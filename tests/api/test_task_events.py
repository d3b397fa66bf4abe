"""A task's activity: GET /tasks/{id}/events, the board's events about one task, newest first,
read from an index (never a scan of the board's log)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from taskboard.events.log import about_task
from tests.api.problems import assert_problem
from tests.helpers import ApiClient, User

API = "/api/v1"


async def _activity(api: ApiClient, task_id: str, user: User, **params: Any) -> dict[str, Any]:
    response = await api.request(
        "GET", f"{API}/tasks/{task_id}/events", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _ok(api: ApiClient, method: str, url: str, user: User, body: Any = None) -> Any:
    response = await api.request(method, url, json=body, headers=user.headers)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_a_task_s_events_newest_first_and_no_one_else_s(api: ApiClient) -> None:
    owner, mate = await api.user("owner"), await api.user("mate")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, mate, "member")
    task = await api.task(b, owner, title="Watched")
    t = task["id"]
    other = await api.task(b, mate, title="Other")
    await _ok(api, "PATCH", f"{API}/tasks/{t}", mate, {"priority": "high"})
    await _ok(api, "POST", f"{API}/tasks/{other['id']}/comments", mate, {"body": "elsewhere"})
    await _ok(api, "POST", f"{API}/boards/{b}/labels", owner, {"name": "bug"})
    await _ok(api, "POST", f"{API}/tasks/{t}/move", owner, {"status": "done"})
    root = await _ok(api, "POST", f"{API}/tasks/{t}/comments", mate, {"body": "secret"})
    await _ok(api, "PATCH", f"{API}/comments/{root['id']}", mate, {"body": "more secret"})
    reply = await _ok(
        api, "POST", f"{API}/tasks/{t}/comments", owner, {"body": "ok", "parent_id": root["id"]}
    )
    await _ok(api, "PATCH", f"{API}/boards/{b}", owner, {"name": "Renamed"})
    await _ok(api, "DELETE", f"{API}/comments/{root['id']}", mate)
    await _ok(api, "DELETE", f"{API}/tasks/{t}", owner)
    await _ok(api, "POST", f"{API}/tasks/{t}/restore", owner)
    await _ok(api, "PATCH", f"{API}/tasks/{other['id']}", mate, {"title": "Still other"})

    page = await _activity(api, t, owner)
    assert [(e["type"], e["actor_id"]) for e in page["items"]] == [
        ("task.restored", owner.id),
        ("task.deleted", owner.id),
        ("comment.deleted", mate.id),
        ("comment.created", owner.id),
        ("comment.updated", mate.id),
        ("comment.created", mate.id),
        ("task.moved", owner.id),
        ("task.updated", mate.id),
        ("task.created", owner.id),
    ]
    assert page["next_before"] is None
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs, reverse=True)
    for event in page["items"]:
        about = event["data"]["task"]["id"] if event["type"].startswith("task.") else None
        assert (about or event["data"]["task_id"]) == t
        assert event["board_id"] == b
    # The same events the board's log holds, the deleted comment's words gone from both.
    log = await api.request("GET", f"{API}/boards/{b}/events", headers=owner.headers)
    by_seq = {e["seq"]: e for e in log.json()["items"]}
    assert all(by_seq[e["seq"]] == e for e in page["items"])
    assert "secret" not in json.dumps(page)
    assert reply["task_id"] == t


async def test_pages_go_back_in_time_without_loss_or_repeat(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    decoy = await api.task(board["id"], owner)
    for i in range(6):
        await _ok(api, "PATCH", f"{API}/tasks/{task['id']}", owner, {"title": f"v{i}"})
        await _ok(api, "PATCH", f"{API}/tasks/{decoy['id']}", owner, {"title": f"d{i}"})
    everything = (await _activity(api, task["id"], owner))["items"]
    assert len(everything) == 7
    pages, before = [], None
    while True:
        page = await _activity(
            api, task["id"], owner, limit=3, **({"before": before} if before else {})
        )
        pages.append([e["seq"] for e in page["items"]])
        before = page["next_before"]
        if before is None:
            break
        assert before == page["items"][-1]["seq"]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [s for p in pages for s in p] == [e["seq"] for e in everything]
    # `before` is exclusive; one below the oldest event is an empty last page.
    oldest = everything[-1]["seq"]
    assert await _activity(api, task["id"], owner, before=oldest) == {
        "items": [],
        "next_before": None,
    }
    bad = await api.request(
        "GET", f"{API}/tasks/{task['id']}/events?before=0", headers=owner.headers
    )
    assert_problem(bad, 422, "before")


async def test_visible_to_whoever_sees_the_board_hidden_like_the_task(api: ApiClient) -> None:
    owner, viewer, outsider = await api.user("o"), await api.user("v"), await api.user("x")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, viewer, "viewer")
    task = await api.task(board["id"], owner)
    assert [e["type"] for e in (await _activity(api, task["id"], viewer))["items"]] == [
        "task.created"
    ]
    for task_id in (task["id"], str(uuid.uuid4())):
        hidden = await api.request("GET", f"{API}/tasks/{task_id}/events", headers=outsider.headers)
        body = assert_problem(hidden, 404)
        same = await api.request("GET", f"{API}/tasks/{task_id}", headers=outsider.headers)
        assert body["type"] == same.json()["type"] == "/problems/task-not-found"
    # A trashed task keeps its history readable, as GET /tasks/{id} still shows it.
    await _ok(api, "DELETE", f"{API}/tasks/{task['id']}", owner)
    trashed = await _activity(api, task["id"], viewer)
    assert [e["type"] for e in trashed["items"]] == ["task.deleted", "task.created"]


async def test_the_activity_is_read_from_the_index_on_a_long_log(
    api: ApiClient, connection: AsyncConnection
) -> None:
    """30,000 events on one board, about 300 tasks and none; the task's page is found through
    ix_board_events_task_id_seq, reading only its own rows."""
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    start = board["seq"] + 1  # board.created, task.created: then the generated events
    await connection.execute(
        text(
            """
            INSERT INTO board_events (board_id, seq, type, data, created_at)
            SELECT :board, :start + g,
                   CASE g % 4 WHEN 0 THEN 'comment.created' WHEN 1 THEN 'column.updated'
                              ELSE 'task.updated' END,
                   CASE g % 4
                     WHEN 0 THEN jsonb_build_object('id', gen_random_uuid(), 'task_id', t.id)
                     WHEN 1 THEN jsonb_build_object('key', 'todo')
                     ELSE jsonb_build_object('task', jsonb_build_object('id', t.id))
                   END,
                   now()
            FROM generate_series(1, 30000) AS g,
                 LATERAL (SELECT CASE WHEN g % 500 = 7 THEN CAST(:task AS text)
                                 ELSE md5((g % 300)::text)::uuid::text END AS id) AS t
            """
        ),
        {"board": board["id"], "start": start, "task": task["id"]},
    )
    await connection.execute(
        text("UPDATE boards SET last_seq = :last WHERE id = :board"),
        {"board": board["id"], "last": start + 30000},
    )
    await connection.execute(text("ANALYZE board_events"))

    page = await _activity(api, task["id"], owner, limit=20)
    assert len(page["items"]) == 20
    assert all(e["seq"] > start for e in page["items"])

    statement = about_task(
        board_id=uuid.UUID(board["id"]), task_id=uuid.UUID(task["id"]), before=None, limit=21
    )
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    explained = await connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))
    plan = explained.scalar_one()[0]["Plan"]
    nodes, stack = [], [plan]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    scans = [n for n in nodes if "Scan" in n["Node Type"]]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Scan", "ix_board_events_task_id_seq")
    ], json.dumps(plan, indent=1)
    assert scans[0]["Scan Direction"] == "Backward"
    assert scans[0]["Actual Rows"] == 21  # the page and one more, nothing else read
    assert scans[0].get("Rows Removed by Filter", 0) == 0
