from __future__ import annotations

import asyncio

import pytest

from tests.helpers import ApiClient

API = "/api/v1"


async def test_replayed_key_returns_first_response_and_writes_nothing(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    url = f"{API}/boards/{board['id']}/tasks"
    headers = {**owner.headers, "Idempotency-Key": "create-1"}
    first = await api.request("POST", url, json={"title": "Once"}, headers=headers)
    again = await api.request("POST", url, json={"title": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    tasks = await api.request("GET", url, headers=owner.headers)
    assert [t["title"] for t in tasks.json()["items"]] == ["Once"]
    events = await api.request("GET", f"{API}/boards/{board['id']}/events", headers=owner.headers)
    assert events.json()["last_seq"] == 2


async def test_same_key_different_body_is_422(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    url = f"{API}/boards/{board['id']}/tasks"
    headers = {**owner.headers, "Idempotency-Key": "k"}
    assert (await api.request("POST", url, json={"title": "A"}, headers=headers)).status_code == 201
    other = await api.request("POST", url, json={"title": "B"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_a_retry_is_replayed_only_with_the_same_if_match(api: ApiClient) -> None:
    """The key is claimed before the route reads If-Match: a retry with a malformed or another
    If-Match is another request (422), never the first one's answer."""
    owner = await api.user("owner")
    board = await api.board(owner)
    task = await api.task(board["id"], owner, title="Move me")
    url = f"{API}/tasks/{task['id']}/move"
    headers = {**owner.headers, "Idempotency-Key": "move-1"}
    body = {"status": "done"}
    first = await api.request("POST", url, json=body, headers={**headers, "If-Match": '"1"'})
    assert first.status_code == 200
    again = await api.request("POST", url, json=body, headers={**headers, "If-Match": '"1"'})
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
    for other in ("garbage", '"7"'):
        refused = await api.request("POST", url, json=body, headers={**headers, "If-Match": other})
        assert refused.status_code == 422, other
        assert "Idempotent-Replayed" not in refused.headers
        assert refused.json()["errors"][0]["rule"] == "reused"


async def test_keys_are_per_user_and_failures_are_not_remembered(api: ApiClient) -> None:
    owner = await api.user("owner")
    mate = await api.user("mate")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, mate, "member")
    url = f"{API}/boards/{board['id']}/tasks"
    bad = await api.request(
        "POST",
        url,
        json={"title": "A", "status": "ghost"},
        headers={**owner.headers, "Idempotency-Key": "k"},
    )
    assert bad.status_code == 404
    good = await api.request(
        "POST", url, json={"title": "A"}, headers={**owner.headers, "Idempotency-Key": "k"}
    )
    assert good.status_code == 201
    theirs = await api.request(
        "POST", url, json={"title": "A"}, headers={**mate.headers, "Idempotency-Key": "k"}
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != good.json()["id"]


@pytest.mark.committed
async def test_concurrent_duplicates_create_one_task(committed_api: ApiClient) -> None:
    api = committed_api
    owner = await api.user("owner")
    board = await api.board(owner)
    url = f"{API}/boards/{board['id']}/tasks"
    headers = {**owner.headers, "Idempotency-Key": "race"}
    responses = await asyncio.gather(
        *[api.request("POST", url, json={"title": "Once"}, headers=headers) for _ in range(8)]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    listing = await api.request("GET", url, headers=owner.headers)
    assert len(listing.json()["items"]) == 1
