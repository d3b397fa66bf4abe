"""The request body as a whole: its size, its syntax, its encoding, its media type, how deep
and how big its JSON is. Always a 4xx problem+json, never a 500 (and never a stack trace)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from taskboard.api.app import create_app
from taskboard.core.config import Settings
from taskboard.core.runtime import Resources
from tests.api.problems import assert_problem, tasks_url
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient, User


def _task_body(size: int) -> bytes:
    """A valid task body of exactly `size` bytes."""
    body = json.dumps({"title": "x", "description": ""}).encode()
    return json.dumps({"title": "x", "description": "d" * (size - len(body))}).encode()


async def test_body_over_the_cap_is_413(
    api: ApiClient, owner: User, board: dict[str, Any], settings: Settings
) -> None:
    cap = settings.max_body_bytes
    body = json.dumps({"title": "x", "description": "d" * int(1.1 * cap)}).encode()
    response = await api.request(
        "POST",
        tasks_url(board),
        content=body,
        headers={**owner.headers, "content-type": "application/json"},
    )
    problem = assert_problem(response, 413)
    assert problem["type"] == "/problems/payload-too-large"
    assert str(cap) in problem["detail"]


async def test_streamed_body_over_the_cap_is_413(
    api: ApiClient, owner: User, board: dict[str, Any], settings: Settings
) -> None:
    """No Content-Length (chunked): the cap applies while the body streams in."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "x", "description": "'
        for _ in range(11):
            yield b"d" * (settings.max_body_bytes // 10)
        yield b'"}'

    response = await api.request(
        "POST",
        tasks_url(board),
        content=chunks(),
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_the_cap_is_read_from_taskboard_max_body_bytes(
    monkeypatch: pytest.MonkeyPatch,
    service_urls: ServiceUrls,
    resources: Resources,
    api: ApiClient,
    owner: User,
    board: dict[str, Any],
) -> None:
    """TASKBOARD_MAX_BODY_BYTES sets the cap the app enforces: with 4096 a 5,000-byte body is
    refused and a 3,000-byte one is served; under the suite's settings the 5,000 bytes pass."""
    monkeypatch.setenv("TASKBOARD_MAX_BODY_BYTES", "4096")
    small = make_settings(service_urls)
    assert small.max_body_bytes == 4096
    app = create_app(small, resources=dataclasses.replace(resources, settings=small))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {**owner.headers, "content-type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        over = await http.post(tasks_url(board), content=_task_body(5000), headers=headers)
        under = await http.post(tasks_url(board), content=_task_body(3000), headers=headers)
    problem = assert_problem(over, 413)
    assert problem["type"] == "/problems/payload-too-large"
    assert "4096" in problem["detail"]
    assert under.status_code == 201, under.text
    served = await api.request("POST", tasks_url(board), content=_task_body(5000), headers=headers)
    assert served.status_code == 201, served.text


async def test_bogus_content_length_is_413(api: ApiClient, owner: User) -> None:
    response = await api.request(
        "POST",
        "/api/v1/boards",
        content=b'{"name": "B"}',
        headers={**owner.headers, "content-type": "application/json", "content-length": "2e9"},
    )
    assert_problem(response, 413)


@pytest.mark.parametrize(
    "content", [b'{"title": "x"', b"title=x", b"", b"[1, 2", b'{"title": x}', b"\x00"]
)
async def test_non_json_body(
    api: ApiClient, owner: User, board: dict[str, Any], content: bytes
) -> None:
    response = await api.request(
        "POST",
        tasks_url(board),
        content=content,
        headers={**owner.headers, "content-type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert {e["rule"] for e in body["errors"]} <= {"json_invalid", "missing"}, body


async def test_undecodable_body_is_400(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    """Not UTF-8 at all: FastAPI refuses it before validation, as a plain 400 problem (no
    `errors`: there is no field to name)."""
    response = await api.request(
        "POST",
        tasks_url(board),
        content=b"\xff\xfe\x00",
        headers={**owner.headers, "content-type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert body["type"] == "/problems/bad-request"


async def test_json_of_the_wrong_shape(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    response = await api.request("POST", tasks_url(board), json=[1, 2], headers=owner.headers)
    body = assert_problem(response, 422)
    assert body["errors"], body


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_wrong_or_missing_content_type(
    api: ApiClient, owner: User, board: dict[str, Any], content_type: str | None
) -> None:
    """A JSON body not declared as JSON is not parsed: the body is refused as a whole."""
    headers = dict(owner.headers)
    if content_type is not None:
        headers["content-type"] = content_type
    response = await api.request(
        "POST", tasks_url(board), content=b'{"title": "x"}', headers=headers
    )
    assert_problem(response, 422, "body", "model_attributes_type")


async def test_huge_int_where_a_small_one_belongs(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    url = f"/api/v1/boards/{board['id']}/columns"
    headers = {**owner.headers, "content-type": "application/json"}
    big = b'{"name": "Big", "wip_limit": ' + b"9" * 4000 + b"}"
    response = await api.request("POST", url, content=big, headers=headers)
    assert_problem(response, 422, "wip_limit", "less_than_equal")
    # Past Python's 4300-digit int limit the JSON parser itself refuses: a plain 400 problem.
    huge = b'{"name": "Big", "wip_limit": ' + b"9" * 5000 + b"}"
    response = await api.request("POST", url, content=huge, headers=headers)
    assert_problem(response, 400)


async def test_deeply_nested_json(api: ApiClient, owner: User, board: dict[str, Any]) -> None:
    depth = 100_000
    content = b'{"title": ' + b"[" * depth + b"]" * depth + b"}"
    response = await api.request(
        "POST",
        tasks_url(board),
        content=content,
        headers={**owner.headers, "content-type": "application/json"},
    )
    # json.loads gives up (RecursionError) long before 100,000 levels: FastAPI's plain 400.
    body = assert_problem(response, 400)
    assert body["type"] == "/problems/bad-request"
