"""Hardening (issue 8): inputs and loads that once answered 500 or stalled the process."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from taskboard.core.config import Settings
from taskboard.core.security import (
    ACCESS_TOKEN_ALGORITHM,
    ACCESS_TOKEN_AUDIENCE,
    PasswordHashing,
)
from tests.helpers import PASSWORD, ApiClient


@pytest.mark.parametrize("header", ['"²"', '"³"', 'W/"¹"', '"1²"'])
async def test_non_ascii_digits_in_if_match_are_a_422_naming_the_header(
    api: ApiClient, header: str
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    raw = header.encode("latin-1")  # what a client puts on the wire
    for method, path, body in (
        ("PATCH", f"/api/v1/tasks/{task['id']}", {"title": "x"}),
        ("POST", f"/api/v1/tasks/{task['id']}/move", {"status": "done"}),
    ):
        response = await api.request(
            method, path, json=body, headers={**owner.headers, "If-Match": raw}
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "If-Match"


async def test_if_match_star_means_any_current_version(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    url = f"/api/v1/tasks/{task['id']}"
    renamed = await api.request(
        "PATCH", url, json={"title": "y"}, headers={**owner.headers, "If-Match": "*"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["version"] == task["version"] + 1
    moved = await api.request(
        "POST", f"{url}/move", json={"status": "done"}, headers={**owner.headers, "If-Match": "*"}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "done"


async def test_password_hashing_leaves_the_event_loop_free(settings: Settings) -> None:
    """Production cost (time 3, 64 MiB): while hashes run, other coroutines keep running."""
    hashing = PasswordHashing(
        settings.model_copy(
            update={"password_hash_time_cost": 3, "password_hash_memory_kib": 65_536}
        )
    )
    ticks = 0
    hashing_done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not hashing_done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = ticks
    hashed = await hashing.hash("correct horse")
    results = await asyncio.gather(
        *(hashing.verify(hashed, "correct horse") for _ in range(3)),
        hashing.verify(None, "unknown account"),
    )
    hashing_done.set()
    await ticking
    assert results == [True, True, True, False]
    # On the loop, each hash would have run without a single tick in between.
    assert ticks - started > 5


async def test_no_comments_on_deleted_tasks_or_replies_to_deleted_comments(
    api: ApiClient,
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    comments = f"/api/v1/tasks/{task['id']}/comments"
    root = await api.request("POST", comments, json={"body": "Root"}, headers=owner.headers)
    assert root.status_code == 201
    gone = await api.request(
        "DELETE", f"/api/v1/comments/{root.json()['id']}", headers=owner.headers
    )
    assert gone.status_code == 204
    reply = await api.request(
        "POST",
        comments,
        json={"body": "to nothing", "parent_id": root.json()["id"]},
        headers=owner.headers,
    )
    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {"field": "parent_id", "rule": "live", "message": "must not be a deleted comment"}
    ]
    trashed = await api.request("DELETE", f"/api/v1/tasks/{task['id']}", headers=owner.headers)
    assert trashed.status_code == 204
    on_trash = await api.request("POST", comments, json={"body": "late"}, headers=owner.headers)
    assert on_trash.status_code == 409
    assert on_trash.json()["type"].endswith("task-deleted")
    restored = await api.request(
        "POST", f"/api/v1/tasks/{task['id']}/restore", headers=owner.headers
    )
    assert restored.status_code == 200
    again = await api.request("POST", comments, json={"body": "back"}, headers=owner.headers)
    assert again.status_code == 201
    listing = (await api.request("GET", comments, headers=owner.headers)).json()["items"]
    assert [c["body"] for c in listing] == ["", "back"]


async def test_security_headers_and_no_store_on_token_responses(api: ApiClient) -> None:
    owner = await api.user("owner")
    boards = await api.request("GET", "/api/v1/boards", headers=owner.headers)
    login = await api.request(
        "POST", "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
    )
    missing = await api.request("GET", "/api/v1/nothing-here")
    for response in (boards, login, missing):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        # Plain HTTP here: HSTS over HTTP is meaningless and is not sent.
        assert "strict-transport-security" not in response.headers
    assert login.status_code == 200
    assert login.headers["cache-control"] == "no-store"
    assert "no-store" not in boards.headers.get("cache-control", "")


async def test_hsts_when_the_request_came_over_tls(api: ApiClient) -> None:
    response = await api.request("GET", "https://testserver/healthz")
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_only_board_admins_see_members_addresses(api: ApiClient) -> None:
    owner, viewer = await api.user("owner"), await api.user("viewer")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, viewer, "viewer")
    members = f"/api/v1/boards/{board['id']}/members"

    def emails(listing: list[dict[str, str | None]]) -> dict[str | None, str | None]:
        return {m["user_id"]: m["email"] for m in listing}

    as_viewer = await api.request("GET", members, headers=viewer.headers)
    assert as_viewer.status_code == 200
    assert emails(as_viewer.json()["items"]) == {owner.id: None, viewer.id: viewer.email}
    as_owner = await api.request("GET", members, headers=owner.headers)
    assert emails(as_owner.json()["items"]) == {owner.id: owner.email, viewer.id: viewer.email}
    # The snapshot is one document shared by every viewer of the board: no addresses.
    snapshot = await api.request("GET", f"/api/v1/boards/{board['id']}", headers=owner.headers)
    assert {m["email"] for m in snapshot.json()["members"]} == {None}


async def test_addresses_that_differ_only_in_unicode_case_are_one_account(
    api: ApiClient,
) -> None:
    first = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "Ädam@example.com", "password": PASSWORD, "display_name": "Ädam"},
    )
    assert first.status_code == 201, first.text
    second = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "ädam@example.com", "password": PASSWORD, "display_name": "ädam"},
    )
    assert second.status_code == 409
    assert second.json()["errors"][0] == {
        "field": "email",
        "rule": "unique",
        "message": "is already registered",
    }
    login = await api.request(
        "POST", "/api/v1/auth/login", json={"email": "ÄDAM@EXAMPLE.COM", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text


async def test_a_valid_token_for_an_account_that_is_gone_is_a_401(
    api: ApiClient, settings: Settings
) -> None:
    claims = {
        "sub": str(uuid.uuid4()),  # signed by us, but for no account we have
        "sid": str(uuid.uuid4()),
        "aud": ACCESS_TOKEN_AUDIENCE,
        "role": "user",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), ACCESS_TOKEN_ALGORITHM)
    bearer = {"Authorization": f"Bearer {token}"}
    created = await api.request("POST", "/api/v1/boards", json={"name": "B"}, headers=bearer)
    assert created.status_code == 401, created.text
    assert created.json()["type"].endswith("invalid-token")
    me = await api.request("GET", "/api/v1/me", headers=bearer)
    assert me.status_code == 401, me.text


async def test_deleting_a_comment_redacts_it_from_the_event_log(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner)
    comments = f"/api/v1/tasks/{task['id']}/comments"
    secret = await api.request(
        "POST", comments, json={"body": "the password is hunter2"}, headers=owner.headers
    )
    kept = await api.request("POST", comments, json={"body": "keep me"}, headers=owner.headers)
    edited = await api.request(
        "PATCH",
        f"/api/v1/comments/{secret.json()['id']}",
        json={"body": "the password is still hunter2"},
        headers=owner.headers,
    )
    assert edited.status_code == 200
    gone = await api.request(
        "DELETE", f"/api/v1/comments/{secret.json()['id']}", headers=owner.headers
    )
    assert gone.status_code == 204
    log = await api.request("GET", f"/api/v1/boards/{board['id']}/events", headers=owner.headers)
    about = {
        e["type"]: e["data"].get("body")
        for e in log.json()["items"]
        if e["data"].get("id") == secret.json()["id"]
    }
    assert about == {"comment.created": "", "comment.updated": "", "comment.deleted": None}
    assert "hunter2" not in log.text
    others = [
        e["data"]["body"] for e in log.json()["items"] if e["data"].get("id") == kept.json()["id"]
    ]
    assert others == ["keep me"]


async def test_api_docs_load_without_internet(api: ApiClient) -> None:
    page = await api.request("GET", "/api/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text  # FastAPI's default loads Swagger UI from jsDelivr
    for asset, kind in (
        ("/api/docs/static/swagger-ui-bundle.js", "javascript"),
        ("/api/docs/static/swagger-ui.css", "text/css"),
    ):
        assert asset in page.text
        served = await api.request("GET", asset)
        assert served.status_code == 200, asset
        assert kind in served.headers["content-type"]
        assert len(served.content) > 100_000
