"""A card moved by the "Move to…" menu, by keyboard and by pointer lands in the right column and
position, for the mover and for a teammate watching live; a refused move rolls back, with a
message."""

from __future__ import annotations

from playwright.async_api import Locator, expect

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


async def centre(target: Locator) -> tuple[float, float]:
    box = await target.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def test_touch_drag_after_a_press(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Touch", CARDS, touch=True)
    # Real touch input through Chromium's DevTools protocol: the page sees touch pointers.
    touch = await ada.context.new_cdp_session(ada)
    x, y = await centre(card(ada, "To do", "One"))
    to_x, to_y = await centre(ada.get_by_role("list", name="In progress"))

    async def finger(kind: str, at: tuple[float, float] | None = None) -> None:
        points = [{"x": at[0], "y": at[1]}] if at else []
        await touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    await finger("touchStart", (x, y))
    # A press held still picks the card up (a swipe would scroll instead).
    await expect(ada.get_by_text("Dragging “One”", exact=False)).to_be_attached(timeout=LIVE)
    for step in range(1, 11):
        await finger("touchMove", (x + (to_x - x) * step / 10, y + (to_y - y) * step / 10))
    await expect(titles(ada, "In progress")).to_have_text(["One"])  # where it would land
    await finger("touchEnd")
    for page in (ada, grace):
        await expect(titles(page, "In progress")).to_have_text(["One"], timeout=LIVE)
        await expect(titles(page, "To do")).to_have_text(["Two", "Three"], timeout=LIVE)
    # The release did not also open the card.
    await expect(ada.get_by_role("dialog")).to_have_count(0)
    assert browsers.errors == []


async def test_a_dragged_card_is_not_yanked_by_remote_moves(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Held", CARDS)
    x, y = await centre(card(ada, "To do", "One"))
    to_x, to_y = await centre(ada.get_by_role("list", name="In progress"))
    await ada.mouse.move(x, y)
    await ada.mouse.down()
    await ada.mouse.move(to_x, to_y, steps=5)
    await expect(titles(ada, "In progress")).to_have_text(["One"])
    # Meanwhile the teammate moves the same card elsewhere, and another one too.
    await card(grace, "To do", "One").get_by_role("button", name="Move to… “One”").click()
    await grace.get_by_role("menuitem", name="Done").click()
    await card(grace, "To do", "Two").get_by_role("button", name="Move to… “Two”").click()
    await grace.get_by_role("menuitem", name="Done").click()
    await expect(titles(ada, "Done")).to_have_text(["Two"], timeout=LIVE)
    # Still under the pointer, still where it will land.
    await expect(titles(ada, "In progress")).to_have_text(["One"])
    await ada.mouse.up()
    for page in (ada, grace):
        await expect(titles(page, "In progress")).to_have_text(["One"], timeout=LIVE)
        await expect(titles(page, "Done")).to_have_text(["Two"], timeout=LIVE)
    # Escape puts a dragged card back.
    x, y = await centre(card(ada, "To do", "Three"))
    await ada.mouse.move(x, y)
    await ada.mouse.down()
    await ada.mouse.move(to_x, to_y, steps=5)
    await expect(card(ada, "In progress", "Three")).to_be_visible()
    await ada.keyboard.press("Escape")
    await ada.mouse.up()
    await expect(titles(ada, "To do")).to_have_text(["Three"])
    await expect(titles(ada, "In progress")).to_have_text(["One"])
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
