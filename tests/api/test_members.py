"""Adding a member by e-mail: POST /boards/{id}/members (PUT members/{user_id} changes roles)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.problems import assert_problem
from tests.helpers import PASSWORD, ApiClient, User

API = "/api/v1"


async def _events(api: ApiClient, board_id: str, user: User, after: int) -> list[dict[str, Any]]:
    page = await api.request(
        "GET", f"{API}/boards/{board_id}/events", params={"after": after}, headers=user.headers
    )
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_an_admin_adds_an_account_by_its_address_in_any_case(api: ApiClient) -> None:
    owner, admin, newcomer = await api.user("owner"), await api.user("admin"), await api.user("new")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, admin, "admin")
    seq = (await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)).json()["seq"]

    added = await api.request(
        "POST",
        f"{API}/boards/{b}/members",
        json={"email": f"  {newcomer.email.upper()} ", "role": "member"},
        headers=admin.headers,
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["user_id"] == newcomer.id
    assert body["email"] == newcomer.email  # the account's own address, not what was typed
    assert body["display_name"] == "New"
    assert body["role"] == "member"

    # The same event as PUT members/{user_id}, so open boards see the newcomer.
    events = await _events(api, b, owner, seq)
    assert [(e["type"], e["data"], e["actor_id"]) for e in events] == [
        ("member.added", {"user_id": newcomer.id, "role": "member"}, admin.id)
    ]
    members = await api.request("GET", f"{API}/boards/{b}/members", headers=owner.headers)
    assert {m["user_id"]: m["role"] for m in members.json()["items"]}[newcomer.id] == "member"
    # They can now see the board with that role.
    snapshot = await api.request("GET", f"{API}/boards/{b}", headers=newcomer.headers)
    assert snapshot.status_code == 200
    assert snapshot.json()["role"] == "member"


async def test_unicode_case_is_folded_as_login_folds_it(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    registered = await api.request(
        "POST",
        f"{API}/auth/register",
        json={"email": "Ädam.Straße@example.com", "password": PASSWORD, "display_name": "Ädam"},
    )
    assert registered.status_code == 201, registered.text
    added = await api.request(
        "POST",
        f"{API}/boards/{board['id']}/members",
        json={"email": "äDAM.STRASSE@EXAMPLE.COM", "role": "viewer"},
        headers=owner.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["user_id"] == registered.json()["id"]


async def test_no_account_with_that_address_names_the_field_and_rule(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    seq = board["seq"]
    missing = await api.request(
        "POST",
        f"{API}/boards/{board['id']}/members",
        json={"email": "nobody-here@example.com", "role": "member"},
        headers=owner.headers,
    )
    assert_problem(missing, 422, "email", "account_exists")
    assert await _events(api, board["id"], owner, seq) == []


async def test_someone_already_on_the_board_is_a_409(api: ApiClient) -> None:
    owner, mate = await api.user("owner"), await api.user("mate")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, mate, "viewer")
    seq = (await api.request("GET", f"{API}/boards/{b}", headers=owner.headers)).json()["seq"]
    for who in (mate, owner):
        again = await api.request(
            "POST",
            f"{API}/boards/{b}/members",
            json={"email": who.email, "role": "admin"},
            headers=owner.headers,
        )
        body = assert_problem(again, 409, "email", "unique")
        assert body["type"] == "/problems/already-member"
        assert body["user_id"] == who.id  # what PUT members/{user_id} needs
    # Nothing changed: the role stays, no event.
    members = await api.request("GET", f"{API}/boards/{b}/members", headers=owner.headers)
    assert {m["user_id"]: m["role"] for m in members.json()["items"]}[mate.id] == "viewer"
    assert await _events(api, b, owner, seq) == []


@pytest.mark.parametrize(("role", "status"), [("member", 403), ("viewer", 403), (None, 404)])
async def test_only_those_who_manage_members_may_add(
    api: ApiClient, role: str | None, status: int
) -> None:
    owner, caller, newcomer = await api.user("owner"), await api.user("c"), await api.user("n")
    board = await api.board(owner)
    if role is not None:
        await api.add_member(board["id"], owner, caller, role)
    refused = await api.request(
        "POST",
        f"{API}/boards/{board['id']}/members",
        json={"email": newcomer.email, "role": "viewer"},
        headers=caller.headers,
    )
    # An outsider learns nothing, not even whether the address has an account.
    assert_problem(refused, status)


async def test_ownership_goes_by_the_put_rules(api: ApiClient) -> None:
    owner, admin = await api.user("owner"), await api.user("admin")
    heir, other = await api.user("heir"), await api.user("other")
    board = await api.board(owner)
    b = board["id"]
    await api.add_member(b, owner, admin, "admin")
    denied = await api.request(
        "POST",
        f"{API}/boards/{b}/members",
        json={"email": other.email, "role": "owner"},
        headers=admin.headers,
    )
    assert_problem(denied, 403)
    handed = await api.request(
        "POST",
        f"{API}/boards/{b}/members",
        json={"email": heir.email, "role": "owner"},
        headers=owner.headers,
    )
    assert handed.status_code == 201, handed.text
    members = await api.request("GET", f"{API}/boards/{b}/members", headers=heir.headers)
    roles = {m["user_id"]: m["role"] for m in members.json()["items"]}
    assert (roles[heir.id], roles[owner.id]) == ("owner", "admin")
    events = await _events(api, b, heir, 0)
    assert events[-1]["type"] == "member.added"
    assert events[-1]["data"] == {
        "user_id": heir.id,
        "role": "owner",
        "previous_owner_id": owner.id,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"role": "member"},
        {"email": "a@example.com", "role": "boss"},
        {"email": "a@example.com", "role": "member", "user_id": "x"},
    ],
)
async def test_a_malformed_body_is_a_422(
    api: ApiClient, owner: User, board: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await api.request(
        "POST", f"{API}/boards/{board['id']}/members", json=body, headers=owner.headers
    )
    assert_problem(response, 422)
