"""Notifications in the page: pushed live over the socket to whichever page the user has open,
counted, listed, marked read."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, add_member, as_user, create_account, new_board


async def test_an_assignment_arrives_live_and_is_marked_read(browsers: Browsers, site: str) -> None:
    ada = await browsers.open()
    ada_email = await create_account(ada, "Ada")
    board_id = await new_board(ada, "Assignments")
    grace = await browsers.open()
    grace_email = await create_account(grace, "Grace")  # on her boards list: no board open
    await add_member(site, ada_email, grace_email, board_id)
    await expect(grace.get_by_role("button", name="Notifications", exact=True)).to_be_visible()

    async with as_user(site, grace_email) as http:
        grace_id = (await http.get("/me")).json()["id"]
    async with as_user(site, ada_email) as http:
        made = await http.post(
            f"/boards/{board_id}/tasks", json={"title": "Review", "assignee_ids": [grace_id]}
        )
        assert made.status_code == 201, made.text

    bell = grace.get_by_role("button", name="Notifications 1 unread")
    await expect(bell).to_be_visible(timeout=LIVE)
    await bell.click()
    panel = grace.get_by_role("region", name="Notifications")
    await expect(panel.get_by_role("link", name="Assigned to you: Review")).to_be_visible()
    await panel.get_by_role("button", name="Mark read: Assigned to you: Review").click()
    await expect(grace.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    # Read is kept: a reload shows none unread.
    await grace.reload()
    await expect(grace.get_by_role("button", name="Notifications", exact=True)).to_be_visible()
    assert browsers.errors == []
