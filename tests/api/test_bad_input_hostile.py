"""Hostile strings that reach PostgreSQL or the problem renderer (NUL bytes, lone surrogates,
non-ASCII case folding): a 4xx problem+json, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.problems import assert_problem, tasks_url
from tests.helpers import ApiClient, User


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("PATCH", "", {"name": "x"}), ("POST", "/move", {}), ("DELETE", "", None)],
)
async def test_nul_in_column_key_path(
    api: ApiClient,
    owner: User,
    board: dict[str, Any],
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    """The {key} path parameter is checked against the column-key pattern (it once was not:
    the NUL reached SQL and answered 500)."""
    response = await api.request(
        method,
        f"/api/v1/boards/{board['id']}/columns/to%00do{suffix}",
        json=body,
        headers=owner.headers,
    )
    assert_problem(response, 422, "key", "string_pattern_mismatch")


async def test_invalid_column_key_in_path_is_422(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    response = await api.request(
        "PATCH",
        f"/api/v1/boards/{board['id']}/columns/NOT%20A%20KEY",
        json={"name": "x"},
        headers=owner.headers,
    )
    assert_problem(response, 422, "key")


async def test_unknown_column_key_in_path_is_404(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    response = await api.request(
        "PATCH",
        f"/api/v1/boards/{board['id']}/columns/nope",
        json={"name": "x"},
        headers=owner.headers,
    )
    assert_problem(response, 404)


@pytest.mark.parametrize("column", ["todo", "done"], ids=["non-empty", "empty"])
async def test_nul_in_move_tasks_to(
    api: ApiClient, owner: User, board: dict[str, Any], column: str
) -> None:
    """Refused up front (it once reached SQL for a non-empty column, and the event's JSONB for
    an empty one: 500 either way)."""
    await api.task(board["id"], owner, status="todo")
    response = await api.request(
        "DELETE",
        f"/api/v1/boards/{board['id']}/columns/{column}",
        params={"move_tasks_to": "to\x00do"},
        headers=owner.headers,
    )
    assert_problem(response, 422, "move_tasks_to")


async def test_nul_in_login_email(api: ApiClient) -> None:
    response = await api.request(
        "POST", "/api/v1/auth/login", json={"email": "a\x00@example.com", "password": "pw"}
    )
    assert_problem(response, 422, "email")


async def test_lone_surrogate_in_title(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request(
        "POST",
        tasks_url(board),
        content=b'{"title": "x\\ud800y"}',
        headers={**owner.headers, "content-type": "application/json"},
    )
    # json.loads accepts the escape, but no UTF-8 text (so no PostgreSQL column) can hold it.
    assert_problem(response, 422, "title", "string_unicode")


async def test_lone_surrogate_in_unknown_field_name(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    response = await api.request(
        "POST",
        tasks_url(board),
        content=b'{"title": "x", "\\udfff": 1}',
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert_problem(response, 422)


@pytest.mark.parametrize("how", ["create", "rename"])
async def test_duplicate_non_ascii_label_name_is_409(
    api: ApiClient, owner: User, board: dict[str, Any], how: str
) -> None:
    """The duplicate check lowercases in PostgreSQL, like the unique index (it once compared
    with Python's str.lower(), which differs for 'İ': the insert hit the index, 500)."""
    url = f"/api/v1/boards/{board['id']}/labels"
    first = await api.request("POST", url, json={"name": "İ"}, headers=owner.headers)
    assert first.status_code == 201, first.text
    if how == "create":
        response = await api.request("POST", url, json={"name": "İ"}, headers=owner.headers)
    else:
        other = await api.request("POST", url, json={"name": "other"}, headers=owner.headers)
        response = await api.request(
            "PATCH",
            f"/api/v1/labels/{other.json()['id']}",
            json={"name": "İ"},
            headers=owner.headers,
        )
    assert_problem(response, 409, "name", "unique")


async def test_duplicate_label_name_differing_in_ascii_case_is_409(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    url = f"/api/v1/boards/{board['id']}/labels"
    first = await api.request("POST", url, json={"name": "Bug"}, headers=owner.headers)
    assert first.status_code == 201, first.text
    response = await api.request("POST", url, json={"name": "bUG"}, headers=owner.headers)
    assert_problem(response, 409, "name", "unique")


async def test_non_ascii_email_can_log_in(api: ApiClient) -> None:
    """The lookup lowercases in PostgreSQL too (with Python's str.lower() an address with a
    non-ASCII capital registered but could never log in)."""
    email = f"İnci-{uuid.uuid4().hex[:6]}@example.com"
    password = "correct horse battery staple"
    created = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": "Inci"},
    )
    assert created.status_code == 201, created.text
    login = await api.request(
        "POST", "/api/v1/auth/login", json={"email": created.json()["email"], "password": password}
    )
    assert login.status_code == 200, login.text
