"""Bad fields in a JSON body: unknown fields, lengths, NUL bytes, dates. Always a 422
problem+json naming the field and the rule, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.problems import assert_problem, tasks_url
from tests.helpers import ApiClient, User


async def test_unknown_field_on_task_is_rejected(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    response = await api.request(
        "POST", tasks_url(board), json={"title": "x", "is_admin": True}, headers=owner.headers
    )
    assert_problem(response, 422, "is_admin", "extra_forbidden")


async def test_unknown_field_on_board_is_rejected(api: ApiClient, owner: User) -> None:
    response = await api.request(
        "POST",
        "/api/v1/boards",
        json={"name": "B", "owner_id": str(uuid.uuid4())},
        headers=owner.headers,
    )
    assert_problem(response, 422, "owner_id", "extra_forbidden")


async def test_unknown_field_on_register_is_rejected(api: ApiClient) -> None:
    response = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={
            "email": "mallory@example.com",
            "password": "long enough password",
            "display_name": "Mallory",
            "site_role": "admin",
        },
    )
    assert_problem(response, 422, "site_role", "extra_forbidden")


async def test_title_over_200_chars(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request(
        "POST", tasks_url(board), json={"title": "t" * 201}, headers=owner.headers
    )
    assert_problem(response, 422, "title", "string_too_long")
    ok = await api.request(
        "POST", tasks_url(board), json={"title": "t" * 200}, headers=owner.headers
    )
    assert ok.status_code == 201, ok.text


async def test_description_over_20000_chars(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    response = await api.request(
        "POST",
        tasks_url(board),
        json={"title": "x", "description": "d" * 20_001},
        headers=owner.headers,
    )
    assert_problem(response, 422, "description", "string_too_long")


async def test_nul_byte_in_title(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request(
        "POST", tasks_url(board), json={"title": "bad\x00title"}, headers=owner.headers
    )
    body = assert_problem(response, 422, "title", "value_error")
    assert "NUL" in body["errors"][0]["message"]


async def test_nul_byte_in_patched_title(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    task = await api.task(board["id"], owner)
    response = await api.request(
        "PATCH", f"/api/v1/tasks/{task['id']}", json={"title": "\x00"}, headers=owner.headers
    )
    assert_problem(response, 422, "title", "value_error")


async def test_nul_byte_in_query_q(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request(
        "GET", tasks_url(board), params={"q": "needle\x00"}, headers=owner.headers
    )
    assert_problem(response, 422, "q", "no_nul")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("2024-13-45T10:00:00Z", None),
        ("not a date", None),
        ("", None),
        (12345678901234567890, None),
        ([], None),
        ("2024-05-01T10:00:00", "timezone_aware"),  # naive: no offset
        ("2024-05-01", None),  # a date without a time (and zone)
        ("0001-01-01T00:00:00+00:00", "value_error"),
        ("9999-12-31T23:59:59-14:00", "value_error"),
    ],
)
async def test_invalid_due_at(
    api: ApiClient, owner: User, board: dict[str, Any], value: Any, rule: str | None
) -> None:
    response = await api.request(
        "POST", tasks_url(board), json={"title": "x", "due_at": value}, headers=owner.headers
    )
    assert_problem(response, 422, "due_at", rule)


async def test_naive_start_at_on_patch(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    task = await api.task(board["id"], owner)
    response = await api.request(
        "PATCH",
        f"/api/v1/tasks/{task['id']}",
        json={"start_at": "2024-05-01T10:00:00"},
        headers=owner.headers,
    )
    assert_problem(response, 422, "start_at", "timezone_aware")


async def test_start_after_due_on_create(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    """Named like the PATCH below (it used to be field 'body', rule value_error: a
    model_validator on TaskCreate)."""
    response = await api.request(
        "POST",
        tasks_url(board),
        json={"title": "x", "start_at": "2024-05-02T00:00:00Z", "due_at": "2024-05-01T00:00:00Z"},
        headers=owner.headers,
    )
    assert_problem(response, 422, "due_at", "after_start")


async def test_start_after_due_on_patch(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    task = await api.task(board["id"], owner, due_at="2024-05-01T00:00:00Z")
    response = await api.request(
        "PATCH",
        f"/api/v1/tasks/{task['id']}",
        json={"start_at": "2024-05-02T00:00:00+00:00"},
        headers=owner.headers,
    )
    assert_problem(response, 422, "due_at", "after_start")


@pytest.mark.parametrize("name", ["", "   ", "\u3000\t", "\x1c\x1f", "\u2028"])
async def test_blank_names_are_refused(api: ApiClient, owner: User, name: str) -> None:
    """Whitespace as str.strip() knows it, which the document's pattern spells out (ECMAScript
    \\s differs: it lacks \\x1c-\\x1f)."""
    response = await api.request(
        "POST", "/api/v1/boards", json={"name": name}, headers=owner.headers
    )
    assert_problem(response, 422, "name")


async def test_names_are_stored_stripped(api: ApiClient, owner: User) -> None:
    response = await api.request(
        "POST", "/api/v1/boards", json={"name": "\u3000 Roadmap \x1c"}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Roadmap"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/boards/{board}", "name"),
        ("/api/v1/boards/{board}", "description"),
        ("/api/v1/labels/{label}", "name"),
        ("/api/v1/labels/{label}", "color"),
        ("/api/v1/boards/{board}/columns/todo", "name"),
        ("/api/v1/tasks/{task}", "priority"),
        ("/api/v1/tasks/{task}", "labels"),
        ("/api/v1/me", "display_name"),
        ("/api/v1/me", "time_zone"),
    ],
)
async def test_patch_null_is_refused_where_the_field_cannot_be_empty(
    api: ApiClient, owner: User, board: dict[str, Any], path: str, field: str
) -> None:
    """Leaving a field out keeps it; null is refused (not silently ignored) unless null has a
    meaning, like clearing a due date. The document lists these fields as non-nullable."""
    label = await api.request(
        "POST", f"/api/v1/boards/{board['id']}/labels", json={"name": "L"}, headers=owner.headers
    )
    task = await api.task(board["id"], owner)
    url = path.format(board=board["id"], label=label.json()["id"], task=task["id"])
    response = await api.request("PATCH", url, json={field: None}, headers=owner.headers)
    assert_problem(response, 422, field, "not_null")
