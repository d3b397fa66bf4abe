"""Archived boards: PATCH {"archived": true|false}, listed apart, read-only until unarchived."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.problems import assert_problem
from tests.helpers import ApiClient, User

API = "/api/v1"


async def _seq(api: ApiClient, board_id: str, user: User) -> int:
    snapshot = await api.request("GET", f"{API}/boards/{board_id}", headers=user.headers)
    assert snapshot.status_code == 200, snapshot.text
    seq: int = snapshot.json()["seq"]
    return seq


async def _archive(api: ApiClient, board_id: str, user: User, archived: bool = True) -> Any:
    response = await api.request(
        "PATCH", f"{API}/boards/{board_id}", json={"archived": archived}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _listed(api: ApiClient, user: User, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await api.request("GET", f"{API}/boards", params=query, headers=user.headers)
        assert page.status_code == 200, page.text
        ids += [b["id"] for b in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return ids


async def test_archiving_is_seen_everywhere_and_undone(api: ApiClient) -> None:
    owner, admin = await api.user("owner"), await api.user("admin")
    board = await api.board(owner)
    b = board["id"]
    assert board["archived_at"] is None
    await api.add_member(b, owner, admin, "admin")
    seq = await _seq(api, b, owner)

    archived = await _archive(api, b, admin)
    assert archived["archived_at"] is not None
    assert archived["role"] == "admin"
    snapshot = (await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)).json()
    assert snapshot["archived_at"] == archived["archived_at"]
    assert snapshot["seq"] == seq + 1
    # Open boards learn it from the event, in the form the API gives it.
    log = await api.request(
        "GET", f"{API}/boards/{b}/events", params={"after": seq}, headers=owner.headers
    )
    [event] = log.json()["items"]
    assert (event["type"], event["data"]) == (
        "board.updated",
        {"archived_at": archived["archived_at"]},
    )

    # Archiving it again changes nothing and tells no one.
    again = await _archive(api, b, owner)
    assert again["archived_at"] == archived["archived_at"]
    assert await _seq(api, b, owner) == seq + 1

    back = await _archive(api, b, owner, archived=False)
    assert back["archived_at"] is None
    log = await api.request(
        "GET", f"{API}/boards/{b}/events", params={"after": seq + 1}, headers=owner.headers
    )
    assert [(e["type"], e["data"]) for e in log.json()["items"]] == [
        ("board.updated", {"archived_at": None})
    ]
    # Writable again.
    await api.task(b, admin, title="Back in business")


async def test_only_admins_and_the_owner_archive(api: ApiClient) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, member, "member")
    refused = await api.request(
        "PATCH", f"{API}/boards/{board['id']}", json={"archived": True}, headers=member.headers
    )
    assert_problem(refused, 403)
    outsider = await api.user("outsider")
    hidden = await api.request(
        "PATCH", f"{API}/boards/{board['id']}", json={"archived": True}, headers=outsider.headers
    )
    assert_problem(hidden, 404)
    null = await api.request(
        "PATCH", f"{API}/boards/{board['id']}", json={"archived": None}, headers=owner.headers
    )
    assert_problem(null, 422, "archived", "not_null")


async def test_the_list_shows_unarchived_boards_unless_asked_for_archived_ones(
    api: ApiClient,
) -> None:
    owner, viewer = await api.user("owner"), await api.user("viewer")
    boards = [await api.board(owner, name=f"B{i}") for i in range(7)]
    for board in boards:
        await api.add_member(board["id"], owner, viewer, "viewer")
    shelved = [boards[i]["id"] for i in (1, 2, 4, 5, 6)]
    for b in shelved:
        await _archive(api, b, owner)
    newest_first = [b["id"] for b in reversed(boards)]
    for user in (owner, viewer):  # archived for every member, not only whoever archived it
        assert await _listed(api, user) == [b for b in newest_first if b not in shelved]
        assert await _listed(api, user, archived="true") == [
            b for b in newest_first if b in shelved
        ]
        assert await _listed(api, user, archived="false") == await _listed(api, user)
    page = await api.request("GET", f"{API}/boards?archived=true", headers=viewer.headers)
    assert all(b["archived_at"] for b in page.json()["items"])
    assert {b["role"] for b in page.json()["items"]} == {"viewer"}


@dataclass
class Shelf:
    """An archived board with one of everything on it, and its people."""

    board: str
    task: str
    trashed: str
    comment: str
    label: str
    webhook: str
    owner: User
    member: User
    viewer: User
    other: User  # an account not on the board


async def _shelf(api: ApiClient) -> Shelf:
    owner, member, viewer = await api.user("owner"), await api.user("member"), await api.user("v")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, member, "member")
    await api.add_member(b, owner, viewer, "viewer")
    task = await api.task(b, member)
    trashed = await api.task(b, member, title="Trashed")
    assert (
        await api.request("DELETE", f"{API}/tasks/{trashed['id']}", headers=member.headers)
    ).status_code == 204
    comment = await api.request(
        "POST", f"{API}/tasks/{task['id']}/comments", json={"body": "c"}, headers=member.headers
    )
    label = await api.request(
        "POST", f"{API}/boards/{b}/labels", json={"name": "bug"}, headers=owner.headers
    )
    webhook = await api.request(
        "POST",
        f"{API}/boards/{b}/webhooks",
        json={"url": "http://93.184.215.14/hook"},
        headers=owner.headers,
    )
    assert webhook.status_code == 201, webhook.text
    await _archive(api, b, owner)
    return Shelf(
        b,
        task["id"],
        trashed["id"],
        comment.json()["id"],
        label.json()["id"],
        webhook.json()["id"],
        owner,
        member,
        viewer,
        await api.user("other"),
    )


def _writes(s: Shelf) -> list[tuple[str, User, str, str, dict[str, Any] | None]]:
    b, t = s.board, s.task
    return [
        ("rename", s.owner, "PATCH", f"{API}/boards/{b}", {"name": "Renamed"}),
        (
            "rename + archive",
            s.owner,
            "PATCH",
            f"{API}/boards/{b}",
            {"name": "R", "archived": True},
        ),
        ("create task", s.member, "POST", f"{API}/boards/{b}/tasks", {"title": "x"}),
        ("edit task", s.member, "PATCH", f"{API}/tasks/{t}", {"title": "y"}),
        ("move task", s.member, "POST", f"{API}/tasks/{t}/move", {"status": "done"}),
        ("trash task", s.member, "DELETE", f"{API}/tasks/{t}", None),
        ("restore task", s.member, "POST", f"{API}/tasks/{s.trashed}/restore", None),
        ("comment", s.member, "POST", f"{API}/tasks/{t}/comments", {"body": "hi"}),
        ("edit comment", s.member, "PATCH", f"{API}/comments/{s.comment}", {"body": "e"}),
        ("delete comment", s.member, "DELETE", f"{API}/comments/{s.comment}", None),
        ("add column", s.owner, "POST", f"{API}/boards/{b}/columns", {"name": "Review"}),
        ("edit column", s.owner, "PATCH", f"{API}/boards/{b}/columns/done", {"wip_limit": 5}),
        ("move column", s.owner, "POST", f"{API}/boards/{b}/columns/done/move", {}),
        ("delete column", s.owner, "DELETE", f"{API}/boards/{b}/columns/in_progress", None),
        ("add label", s.owner, "POST", f"{API}/boards/{b}/labels", {"name": "ux"}),
        ("edit label", s.owner, "PATCH", f"{API}/labels/{s.label}", {"color": "#ff0000"}),
        ("delete label", s.owner, "DELETE", f"{API}/labels/{s.label}", None),
        (
            "set role",
            s.owner,
            "PUT",
            f"{API}/boards/{b}/members/{s.member.id}",
            {"role": "admin"},
        ),
        (
            "add by e-mail",
            s.owner,
            "POST",
            f"{API}/boards/{b}/members",
            {"email": s.other.email, "role": "viewer"},
        ),
        ("remove member", s.owner, "DELETE", f"{API}/boards/{b}/members/{s.member.id}", None),
        ("leave", s.viewer, "DELETE", f"{API}/boards/{b}/members/{s.viewer.id}", None),
        (
            "add webhook",
            s.owner,
            "POST",
            f"{API}/boards/{b}/webhooks",
            {"url": "http://93.184.215.14/other"},
        ),
        ("edit webhook", s.owner, "PATCH", f"{API}/webhooks/{s.webhook}", {"enabled": False}),
        ("delete webhook", s.owner, "DELETE", f"{API}/webhooks/{s.webhook}", None),
    ]


async def test_an_archived_board_refuses_every_write_with_a_409(api: ApiClient) -> None:
    shelf = await _shelf(api)
    seq = await _seq(api, shelf.board, shelf.owner)
    for name, user, method, url, body in _writes(shelf):
        response = await api.request(method, url, json=body, headers=user.headers)
        problem = assert_problem(response, 409)
        assert problem["type"] == "/problems/board-archived", (name, problem)
        assert problem["title"] == "Board is archived", name
        assert "archived" in problem["detail"], name
    assert await _seq(api, shelf.board, shelf.owner) == seq  # nothing was written
    # Those who may not write at all are still told so first.
    viewer_edit = await api.request(
        "PATCH", f"{API}/tasks/{shelf.task}", json={"title": "v"}, headers=shelf.viewer.headers
    )
    assert_problem(viewer_edit, 403)


async def test_an_archived_board_reads_as_before(api: ApiClient) -> None:
    shelf = await _shelf(api)
    b, t = shelf.board, shelf.task
    reads = [
        (shelf.viewer, f"{API}/boards/{b}"),
        (shelf.viewer, f"{API}/boards/{b}/tasks"),
        (shelf.viewer, f"{API}/boards/{b}/tasks?deleted=true"),
        (shelf.viewer, f"{API}/tasks/{t}"),
        (shelf.viewer, f"{API}/tasks/{t}/comments"),
        (shelf.viewer, f"{API}/tasks/{t}/events"),
        (shelf.viewer, f"{API}/boards/{b}/events"),
        (shelf.viewer, f"{API}/boards/{b}/members"),
        (shelf.viewer, f"{API}/boards/{b}/labels"),
        (shelf.viewer, f"{API}/boards/{b}/columns"),
        (shelf.owner, f"{API}/boards/{b}/webhooks"),
        (shelf.owner, f"{API}/webhooks/{shelf.webhook}/deliveries"),
    ]
    for user, url in reads:
        response = await api.request("GET", url, headers=user.headers)
        assert response.status_code == 200, (url, response.text)
    snapshot = await api.request("GET", f"{API}/boards/{b}", headers=shelf.viewer.headers)
    assert [task["id"] for task in snapshot.json()["tasks"]] == [t]


async def test_unarchiving_may_carry_other_changes_and_deleting_needs_no_unarchiving(
    api: ApiClient,
) -> None:
    shelf = await _shelf(api)
    b = shelf.board
    both = await api.request(
        "PATCH",
        f"{API}/boards/{b}",
        json={"archived": False, "name": "Revived"},
        headers=shelf.owner.headers,
    )
    assert both.status_code == 200, both.text
    assert (both.json()["name"], both.json()["archived_at"]) == ("Revived", None)
    await _archive(api, b, shelf.owner)
    # Only the owner deletes, archived or not.
    denied = await api.request("DELETE", f"{API}/boards/{b}", headers=shelf.member.headers)
    assert_problem(denied, 403)
    gone = await api.request("DELETE", f"{API}/boards/{b}", headers=shelf.owner.headers)
    assert gone.status_code == 204
    assert (
        await api.request("GET", f"{API}/boards/{b}", headers=shelf.owner.headers)
    ).status_code == 404


@pytest.mark.committed
async def test_a_write_waiting_on_the_lock_sees_the_archiving_it_waited_for(
    committed_api: ApiClient, engine: AsyncEngine
) -> None:
    """The archived flag is read by the statement that takes the board lock: a write queued
    behind an archiving transaction is refused once that commits, never let through on the
    state from before it."""
    api = committed_api
    owner = await api.user("owner")
    board = await api.board(owner)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(
            text("UPDATE boards SET archived_at = now() WHERE id = :id"), {"id": board["id"]}
        )
        create = asyncio.create_task(
            api.request(
                "POST",
                f"{API}/boards/{board['id']}/tasks",
                json={"title": "late"},
                headers=owner.headers,
            )
        )
        edit = asyncio.create_task(
            api.request(
                "PATCH", f"{API}/boards/{board['id']}", json={"name": "x"}, headers=owner.headers
            )
        )
        await asyncio.sleep(0.5)
        assert not create.done()  # both wait for the board lock
        assert not edit.done()
        await transaction.commit()
    for response in (await create, await edit):
        assert_problem(response, 409)
    tasks = await api.request("GET", f"{API}/boards/{board['id']}/tasks", headers=owner.headers)
    assert tasks.json()["items"] == []
