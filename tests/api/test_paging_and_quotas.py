"""No list is unbounded and no user can fill the service: every list pages, and what one
owner may hold is capped by settings (issue 8: 2,000 boards in a minute, a 40 MB GET)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from taskboard.core.runtime import Resources
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient, User

API = "/api/v1"


async def _all_pages(api: ApiClient, url: str, user: User, limit: int) -> list[list[Any]]:
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await api.request("GET", url, params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_every_list_pages_without_loss_or_repeat(api: ApiClient) -> None:
    owner = await api.user("owner")
    boards = [await api.board(owner, name=f"B{i}") for i in range(5)]
    b = boards[0]["id"]
    task = await api.task(b, owner)
    for i in range(5):
        mate = await api.user(f"m{i}")
        await api.add_member(b, owner, mate, "viewer")
        label = await api.request(
            "POST", f"{API}/boards/{b}/labels", json={"name": f"L{i}"}, headers=owner.headers
        )
        assert label.status_code == 201
        comment = await api.request(
            "POST",
            f"{API}/tasks/{task['id']}/comments",
            json={"body": f"c{i}"},
            headers=owner.headers,
        )
        assert comment.status_code == 201

    board_pages = await _all_pages(api, f"{API}/boards", owner, 2)
    assert [len(p) for p in board_pages] == [2, 2, 1]
    # Newest first, each once.
    assert [x["id"] for p in board_pages for x in p] == [x["id"] for x in reversed(boards)]

    members = await _all_pages(api, f"{API}/boards/{b}/members", owner, 4)
    assert [len(p) for p in members] == [4, 2]
    assert len({m["user_id"] for p in members for m in p}) == 6

    labels = await _all_pages(api, f"{API}/boards/{b}/labels", owner, 2)
    assert [x["name"] for p in labels for x in p] == [f"L{i}" for i in range(5)]

    comments = await _all_pages(api, f"{API}/tasks/{task['id']}/comments", owner, 3)
    assert [x["body"] for p in comments for x in p] == [f"c{i}" for i in range(5)]


async def test_a_forged_cursor_is_a_422_naming_it(api: ApiClient) -> None:
    owner = await api.user("owner")
    response = await api.request(
        "GET", f"{API}/boards", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=owner.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


@pytest.fixture
def small_quotas(service_urls: ServiceUrls, resources: Resources) -> Resources:
    resources.settings = make_settings(
        service_urls,
        quota_boards_per_user=2,
        quota_members_per_board=2,
        quota_columns_per_board=4,
        quota_labels_per_board=1,
        quota_comments_per_task=1,
        quota_tasks_per_board=3,
    )
    return resources


async def test_quotas_refuse_one_more_with_a_409_naming_the_limit(
    small_quotas: Resources, api: ApiClient
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)  # owner + 3 default columns
    b = board["id"]
    task = await api.task(b, owner)

    async def refused(call: Callable[[], Awaitable[Any]], quota: str, limit: int) -> None:
        response = await call()
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["type"].endswith("quota-exceeded")
        assert (body["quota"], body["limit"]) == (quota, limit)

    await api.board(owner, name="second")
    await refused(
        lambda: api.request("POST", f"{API}/boards", json={"name": "x"}, headers=owner.headers),
        "boards owned",
        2,
    )
    mate, extra = await api.user("mate"), await api.user("extra")
    await api.add_member(b, owner, mate, "member")
    await refused(
        lambda: api.request(
            "PUT",
            f"{API}/boards/{b}/members/{extra.id}",
            json={"role": "viewer"},
            headers=owner.headers,
        ),
        "members on a board",
        2,
    )
    # Changing an existing member's role is not one more member.
    again = await api.request(
        "PUT", f"{API}/boards/{b}/members/{mate.id}", json={"role": "admin"}, headers=owner.headers
    )
    assert again.status_code == 200
    column = await api.request(
        "POST", f"{API}/boards/{b}/columns", json={"name": "Review"}, headers=owner.headers
    )
    assert column.status_code == 201
    await refused(
        lambda: api.request(
            "POST", f"{API}/boards/{b}/columns", json={"name": "More"}, headers=owner.headers
        ),
        "columns on a board",
        4,
    )
    label = await api.request(
        "POST", f"{API}/boards/{b}/labels", json={"name": "one"}, headers=owner.headers
    )
    assert label.status_code == 201
    await refused(
        lambda: api.request(
            "POST", f"{API}/boards/{b}/labels", json={"name": "two"}, headers=owner.headers
        ),
        "labels on a board",
        1,
    )
    # Tasks: the first is there; deleted ones still count (the trash is restorable).
    second = await api.task(b, owner)
    gone = await api.request("DELETE", f"{API}/tasks/{second['id']}", headers=owner.headers)
    assert gone.status_code == 204
    await api.task(b, owner)
    await refused(
        lambda: api.request(
            "POST", f"{API}/boards/{b}/tasks", json={"title": "4th"}, headers=owner.headers
        ),
        "tasks on a board",
        3,
    )
    comments = f"{API}/tasks/{task['id']}/comments"
    first = await api.request("POST", comments, json={"body": "one"}, headers=owner.headers)
    assert first.status_code == 201
    await refused(
        lambda: api.request("POST", comments, json={"body": "two"}, headers=owner.headers),
        "comments on a task",
        1,
    )


async def test_a_snapshot_asked_for_at_once_is_built_once(committed_api: ApiClient) -> None:
    from prometheus_client import REGISTRY

    api = committed_api
    owner = await api.user("owner")
    board = await api.board(owner)
    for i in range(30):
        await api.task(board["id"], owner, title=f"t{i}")

    def builds() -> float:
        return REGISTRY.get_sample_value("taskboard_snapshot_builds_total") or 0.0

    before = builds()
    url = f"{API}/boards/{board['id']}"
    responses = await asyncio.gather(
        *(api.request("GET", url, headers=owner.headers) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1  # one document, one seq
    assert responses[0].json()["seq"] == board["seq"] + 30
    assert builds() - before == 1
