"""Every role against every class of route: read, task edits, board administration, ownership."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import ApiClient, User

API = "/api/v1"
ROLES = ("viewer", "member", "admin", "owner", "outsider")


@dataclass
class World:
    board: dict[str, Any]
    task: dict[str, Any]
    label: dict[str, Any]
    users: dict[str, User]
    target: User  # a plain member that admin-level calls act on
    newcomer: User  # an account not on the board, added by e-mail


async def _world(api: ApiClient) -> World:
    owner = await api.user("owner")
    board = await api.board(owner)
    users = {"owner": owner}
    for role in ("viewer", "member", "admin"):
        users[role] = await api.user(role)
        await api.add_member(board["id"], owner, users[role], role)
    users["outsider"] = await api.user("outsider")
    target = await api.user("target")
    await api.add_member(board["id"], owner, target, "member")
    task = await api.task(board["id"], owner, title="Shared")
    label = await api.request(
        "POST", f"{API}/boards/{board['id']}/labels", json={"name": "bug"}, headers=owner.headers
    )
    return World(board, task, label.json(), users, target, await api.user("newcomer"))


# (name, minimum role, request builder); outsiders always get 404.
def _calls(w: World) -> list[tuple[str, str, str, str, dict[str, Any] | None]]:
    b, t = w.board["id"], w.task["id"]
    return [
        ("snapshot", "viewer", "GET", f"{API}/boards/{b}", None),
        ("list tasks", "viewer", "GET", f"{API}/boards/{b}/tasks", None),
        ("get task", "viewer", "GET", f"{API}/tasks/{t}", None),
        ("events", "viewer", "GET", f"{API}/boards/{b}/events", None),
        ("members", "viewer", "GET", f"{API}/boards/{b}/members", None),
        ("comments", "viewer", "GET", f"{API}/tasks/{t}/comments", None),
        ("task events", "viewer", "GET", f"{API}/tasks/{t}/events", None),
        ("labels", "viewer", "GET", f"{API}/boards/{b}/labels", None),
        ("create task", "member", "POST", f"{API}/boards/{b}/tasks", {"title": "x"}),
        ("edit task", "member", "PATCH", f"{API}/tasks/{t}", {"title": "y"}),
        ("move task", "member", "POST", f"{API}/tasks/{t}/move", {"status": "done"}),
        ("comment", "member", "POST", f"{API}/tasks/{t}/comments", {"body": "hi"}),
        ("rename board", "admin", "PATCH", f"{API}/boards/{b}", {"name": "Renamed"}),
        ("add column", "admin", "POST", f"{API}/boards/{b}/columns", {"name": "Review"}),
        ("wip limit", "admin", "PATCH", f"{API}/boards/{b}/columns/done", {"wip_limit": 50}),
        ("add label", "admin", "POST", f"{API}/boards/{b}/labels", {"name": "feature"}),
        ("edit label", "admin", "PATCH", f"{API}/labels/{w.label['id']}", {"color": "#ff0000"}),
        (
            "set role",
            "admin",
            "PUT",
            f"{API}/boards/{b}/members/{w.target.id}",
            {"role": "viewer"},
        ),
        (
            "add member",
            "admin",
            "POST",
            f"{API}/boards/{b}/members",
            {"email": w.newcomer.email, "role": "viewer"},
        ),
    ]


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(api: ApiClient, role: str) -> None:
    world = await _world(api)
    rank = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
    caller = world.users[role]
    for name, minimum, method, url, body in _calls(world):
        response = await api.request(method, url, json=body, headers=caller.headers)
        if role == "outsider":
            expected = 404
        elif rank[role] >= rank[minimum]:
            expected = 201 if method == "POST" and name != "move task" else 200
        else:
            expected = 403
        assert response.status_code == expected, (role, name, response.text)
        if expected >= 400:
            assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("role", "expected"), [("admin", 403), ("member", 403), ("owner", 204)])
async def test_only_owner_deletes_board(api: ApiClient, role: str, expected: int) -> None:
    world = await _world(api)
    url = f"{API}/boards/{world.board['id']}"
    response = await api.request("DELETE", url, headers=world.users[role].headers)
    assert response.status_code == expected
    after = await api.request("GET", url, headers=world.users["owner"].headers)
    assert after.status_code == (404 if expected == 204 else 200)


async def test_ownership_transfer(api: ApiClient) -> None:
    world = await _world(api)
    b = world.board["id"]
    owner, admin, member = world.users["owner"], world.users["admin"], world.users["member"]
    # An admin cannot make anyone owner, nor demote the owner.
    denied = await api.request(
        "PUT", f"{API}/boards/{b}/members/{admin.id}", json={"role": "owner"}, headers=admin.headers
    )
    assert denied.status_code == 403
    demote = await api.request(
        "PUT",
        f"{API}/boards/{b}/members/{owner.id}",
        json={"role": "member"},
        headers=admin.headers,
    )
    assert demote.status_code == 403
    moved = await api.request(
        "PUT",
        f"{API}/boards/{b}/members/{member.id}",
        json={"role": "owner"},
        headers=owner.headers,
    )
    assert moved.status_code == 200
    members = await api.request("GET", f"{API}/boards/{b}/members", headers=owner.headers)
    roles = {m["user_id"]: m["role"] for m in members.json()["items"]}
    assert roles[member.id] == "owner"
    assert roles[owner.id] == "admin"
    assert list(roles.values()).count("owner") == 1
    # The former owner can no longer delete the board; the new one can.
    gone = await api.request("DELETE", f"{API}/boards/{b}", headers=owner.headers)
    assert gone.status_code == 403
    assert (
        await api.request("DELETE", f"{API}/boards/{b}", headers=member.headers)
    ).status_code == 204


async def test_removed_member_loses_access_and_assignments(api: ApiClient) -> None:
    world = await _world(api)
    b = world.board["id"]
    owner, member = world.users["owner"], world.users["member"]
    task = await api.task(b, owner, title="Assigned", assignee_ids=[member.id])
    assert task["assignee_ids"] == [member.id]
    removed = await api.request(
        "DELETE", f"{API}/boards/{b}/members/{member.id}", headers=owner.headers
    )
    assert removed.status_code == 204
    hidden = await api.request("GET", f"{API}/boards/{b}", headers=member.headers)
    assert hidden.status_code == 404
    after = await api.request("GET", f"{API}/tasks/{task['id']}", headers=owner.headers)
    assert after.json()["assignee_ids"] == []


async def test_owner_cannot_leave_but_a_viewer_can(api: ApiClient) -> None:
    world = await _world(api)
    b = world.board["id"]
    owner, viewer = world.users["owner"], world.users["viewer"]
    stay = await api.request(
        "DELETE", f"{API}/boards/{b}/members/{owner.id}", headers=owner.headers
    )
    assert stay.status_code == 409
    leave = await api.request(
        "DELETE", f"{API}/boards/{b}/members/{viewer.id}", headers=viewer.headers
    )
    assert leave.status_code == 204


async def test_list_boards_shows_only_mine_with_role(api: ApiClient) -> None:
    world = await _world(api)
    other = await api.board(world.users["outsider"], name="Private")
    mine = await api.request("GET", f"{API}/boards", headers=world.users["viewer"].headers)
    assert [(b["id"], b["role"]) for b in mine.json()["items"]] == [(world.board["id"], "viewer")]
    assert other["id"] not in [b["id"] for b in mine.json()["items"]]


async def test_assignees_must_be_members(api: ApiClient) -> None:
    world = await _world(api)
    response = await api.request(
        "POST",
        f"{API}/boards/{world.board['id']}/tasks",
        json={"title": "x", "assignee_ids": [world.users["outsider"].id]},
        headers=world.users["owner"].headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "assignee_ids"
