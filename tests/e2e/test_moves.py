"""A card moved by the "Move to…" menu, by keyboard and by pointer lands in the right column and
position, for the mover and for a teammate watching live; a refused move rolls back, with a
message."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import (
    LIVE,
    as_user,
    card,
    teammates,
    titles,
)

CARDS = ("One", "Two", "Three")


async def test_move_to_menu(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Menu", CARDS)
    await card(ada, "To do", "Two").get_by_role("button", name="Move to… “Two”").click()
    await ada.get_by_role("menuitem", name="Done").click()
    for page in (ada, grace):
        await expect(titles(page, "Done")).to_have_text(["Two"], timeout=LIVE)
        await expect(titles(page, "To do")).to_have_text(["One", "Three"], timeout=LIVE)
    # And to the top of its column.
    await card(ada, "To do", "Three").get_by_role("button", name="Move to… “Three”").click()
    await ada.get_by_role("menuitem", name="Top of To do").click()
    for page in (ada, grace):
        await expect(titles(page, "To do")).to_have_text(["Three", "One"], timeout=LIVE)
    assert browsers.errors == []


async def test_keyboard_move(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Keys", CARDS)
    handle = card(ada, "To do", "One").get_by_role("button", name="One", exact=True)
    await handle.focus()
    await ada.keyboard.press("Space")  # pick up
    await expect(ada.get_by_text("Picked up “One”", exact=False)).to_be_attached()
    await ada.keyboard.press("ArrowRight")  # In progress, position 1
    await ada.keyboard.press("ArrowRight")  # Done, position 1
    await ada.keyboard.press("Space")  # drop
    for page in (ada, grace):
        await expect(titles(page, "Done")).to_have_text(["One"], timeout=LIVE)
        await expect(titles(page, "To do")).to_have_text(["Two", "Three"], timeout=LIVE)
    # Down within a column, and a cancelled move that changes nothing.
    handle = card(ada, "To do", "Two").get_by_role("button", name="Two", exact=True)
    await handle.focus()
    await ada.keyboard.press("Space")
    await ada.keyboard.press("ArrowDown")
    await ada.keyboard.press("Enter")
    for page in (ada, grace):
        await expect(titles(page, "To do")).to_have_text(["Three", "Two"], timeout=LIVE)
    # Settled (the announcement of a later move would replace this one's, below).
    await expect(ada.get_by_text("Moved “Two” to To do.")).to_be_attached(timeout=LIVE)
    await card(ada, "To do", "Three").get_by_role("button", name="Three", exact=True).focus()
    await ada.keyboard.press("Space")
    await ada.keyboard.press("ArrowLeft")
    await ada.keyboard.press("ArrowRight")
    await ada.keyboard.press("Escape")
    await expect(ada.get_by_text("Move cancelled", exact=False)).to_be_attached()
    await expect(titles(ada, "To do")).to_have_text(["Three", "Two"])
    await expect(titles(ada, "In progress")).to_have_count(0)
    assert browsers.errors == []


async def test_pointer_drag(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Drag", CARDS)
    await card(ada, "To do", "Three").drag_to(
        card(ada, "To do", "One"), target_position={"x": 5, "y": 2}
    )
    for page in (ada, grace):
        await expect(titles(page, "To do")).to_have_text(["Three", "One", "Two"], timeout=LIVE)
    await card(ada, "To do", "One").drag_to(ada.get_by_role("list", name="In progress"))
    for page in (ada, grace):
        await expect(titles(page, "In progress")).to_have_text(["One"], timeout=LIVE)
        await expect(titles(page, "To do")).to_have_text(["Three", "Two"], timeout=LIVE)
    assert browsers.errors == []


async def test_a_refused_move_rolls_back_with_a_message(browsers: Browsers, site: str) -> None:
    ada, grace, board_id, ada_email, _ = await teammates(browsers, site, "Limits", CARDS)
    # "Done" takes one card (column settings are a later screen: set through the API).
    async with as_user(site, ada_email) as http:
        limited = await http.patch(f"/boards/{board_id}/columns/done", json={"wip_limit": 1})
        assert limited.status_code == 200, limited.text
    await ada.reload()
    await expect(titles(ada, "To do")).to_have_text(["One", "Two", "Three"])
    await card(ada, "To do", "One").get_by_role("button", name="Move to… “One”").click()
    await ada.get_by_role("menuitem", name="Done").click()
    await expect(titles(grace, "Done")).to_have_text(["One"], timeout=LIVE)
    await card(ada, "To do", "Two").get_by_role("button", name="Move to… “Two”").click()
    await ada.get_by_role("menuitem", name="Done").click()
    await expect(ada.get_by_role("alert")).to_contain_text("Could not move “Two”")
    # Back where it was, for the mover; the teammate never saw it move.
    await expect(titles(ada, "To do")).to_have_text(["Two", "Three"])
    await expect(titles(ada, "Done")).to_have_text(["One"])
    await expect(titles(grace, "Done")).to_have_text(["One"])
    # The refusal is a 409, which Chromium logs; nothing else went wrong.
    assert all("status of 409" in error for error in browsers.errors), browsers.errors
