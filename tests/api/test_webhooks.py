"""Webhook endpoints through the API: admins only, the secret shown once, and targets that
would reach inside the network refused (TASKBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS is off)."""

from __future__ import annotations

import pytest

from taskboard.webhooks.targets import allowed_address
from tests.api.problems import assert_problem
from tests.helpers import ApiClient


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://100.64.0.1/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pw@93.184.215.14/hook",
    ],
)
async def test_targets_inside_the_network_are_refused(api: ApiClient, url: str) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    response = await api.request(
        "POST", f"/api/v1/boards/{board['id']}/webhooks", json={"url": url}, headers=owner.headers
    )
    assert_problem(response, 422, "url")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.2", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of the metadata address
        ("224.0.0.1", False),
    ],
)
def test_address_rules(address: str, allowed: bool) -> None:
    assert allowed_address(address) is allowed


async def test_only_board_admins_manage_webhooks_and_the_secret_is_shown_once(
    api: ApiClient,
) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    board = await api.board(owner)
    await api.add_member(board["id"], owner, member, "member")
    url = f"/api/v1/boards/{board['id']}/webhooks"
    body = {"url": "https://93.184.215.14/hook", "events": ["task.created"]}
    assert_problem(await api.request("POST", url, json=body, headers=member.headers), 403)
    created = await api.request("POST", url, json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    listed = await api.request("GET", url, headers=owner.headers)
    assert [h["id"] for h in listed.json()["items"]] == [created.json()["id"]]
    assert "secret" not in listed.json()["items"][0]
    hook = f"/api/v1/webhooks/{created.json()['id']}"
    rotated = await api.request("POST", f"{hook}/rotate-secret", headers=owner.headers)
    assert rotated.json()["secret"] != created.json()["secret"]
    assert_problem(await api.request("DELETE", hook, headers=member.headers), 403)
    assert (await api.request("DELETE", hook, headers=owner.headers)).status_code == 204
    assert_problem(await api.request("DELETE", hook, headers=owner.headers), 404)


@pytest.mark.parametrize(
    "url", ["https://[i|", "http://(a[b/x", "http://a..b/", "http://" + "x" * 70]
)
async def test_malformed_hosts_are_a_422_not_a_500(api: ApiClient, url: str) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    response = await api.request(
        "POST", f"/api/v1/boards/{board['id']}/webhooks", json={"url": url}, headers=owner.headers
    )
    assert_problem(response, 422, "url")
