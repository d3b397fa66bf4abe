"""Bad path, query and header parameters: ids, page sizes, cursors, filters, If-Match,
Idempotency-Key, Authorization. Always a 4xx problem+json naming the parameter, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.api.problems import assert_problem, tasks_url
from tests.helpers import ApiClient, User

# A well-formed id in the cursors: fixed, so that every xdist worker collects the same test ids.
SOME_ID = "3d6d4374-6300-46e3-a214-370e3454907f"


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/api/v1/boards/not-a-uuid", "board_id"),
        ("GET", "/api/v1/boards/not-a-uuid/tasks", "board_id"),
        ("GET", "/api/v1/tasks/123", "task_id"),
        ("PATCH", "/api/v1/tasks/%00", "task_id"),
        ("DELETE", "/api/v1/boards/{board}/members/zzz", "user_id"),
        ("GET", "/api/v1/boards/" + "f" * 5000, "board_id"),
    ],
)
async def test_invalid_uuid_in_path(
    api: ApiClient, owner: User, board: dict[str, Any], method: str, path: str, field: str
) -> None:
    response = await api.request(
        method, path.format(board=board["id"]), json={}, headers=owner.headers
    )
    assert_problem(response, 422, field, "uuid_parsing")


async def test_page_size_over_the_cap(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request(
        "GET", tasks_url(board), params={"limit": 201}, headers=owner.headers
    )
    assert_problem(response, 422, "limit", "less_than_equal")  # the document's maximum
    ok = await api.request("GET", tasks_url(board), params={"limit": 200}, headers=owner.headers)
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1e3", str(2**70)])
async def test_page_size_not_a_positive_int(
    api: ApiClient, owner: User, board: dict[str, Any], limit: str
) -> None:
    response = await api.request(
        "GET", tasks_url(board), params={"limit": limit}, headers=owner.headers
    )
    assert_problem(response, 422, "limit")


async def test_event_page_size_over_the_cap(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    response = await api.request(
        "GET",
        f"/api/v1/boards/{board['id']}/events",
        params={"limit": 201},
        headers=owner.headers,
    )
    assert_problem(response, 422, "limit", "less_than_equal")


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", ["garbage!!", "é", "a b", "a=="])
async def test_cursor_outside_its_alphabet(
    api: ApiClient, owner: User, board: dict[str, Any], cursor: str
) -> None:
    """Cursors are unpadded URL-safe base64, as the document's pattern says."""
    response = await api.request(
        "GET", tasks_url(board), params={"cursor": cursor}, headers=owner.headers
    )
    assert_problem(response, 422, "cursor", "string_pattern_mismatch")


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        ("Zm9v", "position"),  # base64 of "foo"
        (_cursor({"a": 1}), "position"),
        (_cursor(["todo", "a0"]), "position"),
        (_cursor(["todo", "a0", "not-a-uuid"]), "position"),
        (_cursor(["yesterday", SOME_ID]), "created_at"),
        (_cursor([1, 2]), "-due_at"),
        ("x" * 1000, "position"),
        (_cursor("str"), "created_at"),
        (_cursor(None), "position"),
        (_cursor(["todo", "a0", SOME_ID, "extra"]), "position"),
        pytest.param(
            _cursor(["todo", "a0", {"x": 1}]),
            "position",
            id="non-string-id",
        ),
        pytest.param(
            _cursor(["to\x00do", "a0", SOME_ID]),
            "position",
            id="nul-in-status",
        ),
        pytest.param(
            _cursor(["\ud800", "a0", SOME_ID]),
            "position",
            id="lone-surrogate",
        ),
        pytest.param(
            _cursor(["0001-01-01T00:00:00+14:00", SOME_ID]),
            "created_at",
            id="year-1",
        ),
        pytest.param(
            _cursor(["9999-12-31T23:59:59-14:00", SOME_ID]),
            "-due_at",
            id="year-9999",
        ),
    ],
)
async def test_garbage_cursor(
    api: ApiClient, owner: User, board: dict[str, Any], cursor: str, sort: str
) -> None:
    response = await api.request(
        "GET", tasks_url(board), params={"cursor": cursor, "sort": sort}, headers=owner.headers
    )
    assert_problem(response, 422, "cursor", "format")


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        (_cursor(["2024-01-01T00:00:00", SOME_ID]), "created_at"),  # naive
        (_cursor([["a"], "a0", SOME_ID]), "position"),
        (_cursor(["zzz", 5, SOME_ID]), "position"),
    ],
)
async def test_odd_but_decodable_cursor_is_never_a_5xx(
    api: ApiClient, owner: User, board: dict[str, Any], cursor: str, sort: str
) -> None:
    """Lenient decoding is fine (these give an empty page); a 5xx is not."""
    response = await api.request(
        "GET", tasks_url(board), params={"cursor": cursor, "sort": sort}, headers=owner.headers
    )
    if response.status_code != 200:
        assert_problem(response, 422, "cursor")


async def test_overlong_cursor(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request(
        "GET", tasks_url(board), params={"cursor": "x" * 1001}, headers=owner.headers
    )
    assert_problem(response, 422, "cursor", "string_too_long")


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("due_after", "2024-05-01T10:00:00"),
        ("due_before", "tomorrow"),
        ("due_after", "0001-01-01T00:00:00+00:00"),
        ("sort", "title; DROP TABLE tasks"),
        ("status", "NOT A KEY"),  # a list parameter: the error names status.0
        ("assignee", "me"),
        ("deleted", "maybe"),
    ],
)
async def test_bad_list_filters(
    api: ApiClient, owner: User, board: dict[str, Any], param: str, value: str
) -> None:
    response = await api.request(
        "GET", tasks_url(board), params={param: value}, headers=owner.headers
    )
    assert_problem(response, 422, "status.0" if param == "status" else param)


# (`*` is no bad If-Match: it means any current version, test_hardening.py checks it.)
@pytest.mark.parametrize(
    "if_match", ["abc", '"-1"', '"1.5"', '"1234567890"', '""', '""1""', "W/W/1", "*1"]
)
async def test_bad_if_match(
    api: ApiClient, owner: User, board: dict[str, Any], if_match: str
) -> None:
    task = await api.task(board["id"], owner)
    response = await api.request(
        "PATCH",
        f"/api/v1/tasks/{task['id']}",
        json={"title": "y"},
        headers={**owner.headers, "If-Match": if_match},
    )
    assert_problem(response, 422, "If-Match", "format")


async def test_good_and_stale_if_match(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    task = await api.task(board["id"], owner)
    url = f"/api/v1/tasks/{task['id']}"
    ok = await api.request(
        "PATCH", url, json={"title": "y"}, headers={**owner.headers, "If-Match": 'W/"1"'}
    )
    assert ok.status_code == 200, ok.text
    stale = await api.request(
        "PATCH", url, json={"title": "z"}, headers={**owner.headers, "If-Match": '"1"'}
    )
    assert_problem(stale, 412)


@pytest.mark.parametrize("key", ["k" * 256, "two words", "caf\u00e9"])
async def test_bad_idempotency_key(api: ApiClient, owner: User, key: str) -> None:
    """The document's pattern: 1 to 255 visible ASCII characters."""
    response = await api.request(
        "POST",
        "/api/v1/boards",
        json={"name": "B"},
        headers={**owner.headers, "Idempotency-Key": key.encode()},
    )
    assert_problem(response, 422, "Idempotency-Key", "format")


@pytest.mark.parametrize(
    "authorization", ["Basic abc", "Bearer", "Bearer not.a.jwt", "Bearer " + "a" * 5000]
)
async def test_bad_authorization_header(api: ApiClient, authorization: str) -> None:
    response = await api.request("GET", "/api/v1/boards", headers={"Authorization": authorization})
    assert_problem(response, 401)
