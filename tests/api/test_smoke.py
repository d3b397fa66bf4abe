from __future__ import annotations

from tests.helpers import ApiClient


async def test_register_login_create_board_and_task(api: ApiClient) -> None:
    alice = await api.user("alice")
    me = await api.request("GET", "/api/v1/me", headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["email"] == alice.email
    board = await api.board(alice)
    assert [c["key"] for c in board["columns"]] == ["todo", "in_progress", "done"]
    assert board["seq"] == 1
    task = await api.task(board["id"], alice, title="Write the tests")
    assert task["status"] == "todo"
    snapshot = await api.request("GET", f"/api/v1/boards/{board['id']}", headers=alice.headers)
    assert snapshot.status_code == 200, snapshot.text
    assert snapshot.json()["seq"] == 2
    assert [t["id"] for t in snapshot.json()["tasks"]] == [task["id"]]
