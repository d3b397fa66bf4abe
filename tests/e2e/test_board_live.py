"""Two people at two browsers on one board: each sees the other's cards arrive live."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import (
    LIVE,
    add_card,
    add_member,
    as_user,
    card,
    create_account,
    new_board,
    open_board,
    teammates,
)


async def test_two_people_see_each_others_cards_live(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Launch")

    # Ada's card: hers at once, Grace's live.
    await add_card(ada, "To do", "Write the spec")
    await expect(card(ada, "To do", "Write the spec")).to_be_visible()
    await expect(card(grace, "To do", "Write the spec")).to_be_visible(timeout=LIVE)

    # And back the other way, into another column.
    await add_card(grace, "In progress", "Review the spec")
    await expect(card(ada, "In progress", "Review the spec")).to_be_visible(timeout=LIVE)
    await expect(card(ada, "To do", "Review the spec")).to_have_count(0)

    # Each card once, for both: the optimistic card gave way to the real one.
    for page in (ada, grace):
        await expect(page.get_by_role("listitem", name="Write the spec")).to_have_count(1)
        await expect(page.get_by_role("listitem", name="Review the spec")).to_have_count(1)
    # A reload shows the same board (what was seen live was written).
    await grace.reload()
    await expect(card(grace, "To do", "Write the spec")).to_be_visible()
    await expect(card(grace, "In progress", "Review the spec")).to_be_visible()
    assert browsers.errors == []


async def test_sign_in_refusal_is_shown(browsers: Browsers) -> None:
    page = await browsers.open()
    await page.get_by_label("Email").fill("nobody@example.com")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Invalid email or password")
    assert browsers.errors == []


async def test_a_removed_member_s_board_closes(browsers: Browsers, site: str) -> None:
    ada, grace, board_id, ada_email, grace_email = await teammates(browsers, site, "Private")
    async with as_user(site, grace_email) as http:
        grace_id = (await http.get("/me")).json()["id"]
    async with as_user(site, ada_email) as http:
        removed = await http.delete(f"/boards/{board_id}/members/{grace_id}")
        assert removed.status_code == 204, removed.text
    await expect(grace.get_by_role("alert")).to_have_text(
        "You were removed from this board.", timeout=LIVE
    )
    await expect(grace.get_by_role("heading", name="Private")).to_have_count(0)
    # Ada's view goes on.
    await add_card(ada, "To do", "Still here")
    await expect(card(ada, "To do", "Still here")).to_be_visible()


async def test_an_archived_board_is_read_only_until_restored(browsers: Browsers, site: str) -> None:
    ada = await browsers.open()
    ada_email = await create_account(ada, "Ada")
    board_id = await new_board(ada, "Last year")
    grace = await browsers.open()
    grace_email = await create_account(grace, "Grace")
    await add_member(site, ada_email, grace_email, board_id)
    await open_board(grace, "Last year")
    await expect(grace.get_by_label("Add a card to To do")).to_be_visible()

    await ada.get_by_role("link", name="taskboard").click()
    await ada.get_by_role("button", name="Archive Last year").click()
    await expect(ada.get_by_role("link", name="Last year")).to_have_count(0)
    # Whoever has it open sees it become read-only.
    await expect(grace.get_by_role("status").filter(has_text="archived")).to_be_visible(
        timeout=LIVE
    )
    await expect(grace.get_by_label("Add a card to To do")).to_have_count(0)

    await ada.get_by_role("button", name="Show archived boards").click()
    await expect(ada.get_by_role("heading", name="Archived boards")).to_be_visible()
    await ada.get_by_role("button", name="Restore Last year").click()
    await expect(ada.get_by_role("link", name="Last year")).to_have_count(0)
    await ada.get_by_role("button", name="Back to active boards").click()
    await expect(ada.get_by_role("link", name="Last year")).to_be_visible()
    await expect(grace.get_by_label("Add a card to To do")).to_be_visible(timeout=LIVE)
    assert browsers.errors == []


async def test_boards_are_renamed_and_deleted_by_role(browsers: Browsers, site: str) -> None:
    ada = await browsers.open()
    ada_email = await create_account(ada, "Ada")
    board_id = await new_board(ada, "Old name")
    grace = await browsers.open()
    grace_email = await create_account(grace, "Grace")
    await add_member(site, ada_email, grace_email, board_id)

    await ada.get_by_role("link", name="taskboard").click()
    await ada.get_by_role("button", name="Rename Old name").click()
    await ada.get_by_label("New name for “Old name”").fill("New name")
    await ada.get_by_role("button", name="Save name").click()
    await expect(ada.get_by_role("link", name="New name")).to_be_visible()

    # A member may neither rename nor delete; the board is there to open.
    await grace.reload()
    await expect(grace.get_by_role("link", name="New name")).to_be_visible()
    await expect(grace.get_by_role("button", name="Rename New name")).to_have_count(0)
    await expect(grace.get_by_role("button", name="Delete New name")).to_have_count(0)
    await open_board(grace, "New name")

    await ada.get_by_role("button", name="Delete New name").click()
    await ada.get_by_role("button", name="Delete board").click()
    await expect(ada.get_by_role("link", name="New name")).to_have_count(0)
    await expect(grace.get_by_role("alert")).to_have_text("This board was deleted.", timeout=LIVE)
