"""Remote changes never steal focus or scroll the user away: a half-typed card keeps its
field, focus and text, and a scrolled column keeps the card the user was looking at in view,
while a teammate adds, moves and removes cards above it."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, as_user, card, teammates, titles

TOP_CARD_IN_VIEW = """list => {
  const box = list.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + 20, box.top + 8);
  return hit?.closest("li[data-task]")?.getAttribute("aria-label") ?? null;
}"""


async def top_card_in_view(page: Page) -> str | None:
    result: str | None = await page.get_by_role("list", name="To do").evaluate(TOP_CARD_IN_VIEW)
    return result


async def test_remote_changes_never_steal_focus_or_scroll(browsers: Browsers, site: str) -> None:
    ada, grace, board_id, ada_email, _ = await teammates(browsers, site, "Busy")
    async with as_user(site, ada_email) as http:
        for i in range(40):
            made = await http.post(f"/boards/{board_id}/tasks", json={"title": f"Card {i:02}"})
            assert made.status_code == 201, made.text
    await expect(titles(ada, "To do")).to_have_count(40, timeout=LIVE)
    await expect(titles(grace, "To do")).to_have_count(40, timeout=LIVE)

    # Ada scrolls "To do" down to Card 20 and starts typing a card into "Done".
    await card(ada, "To do", "Card 20").evaluate(
        """li => {
          const list = li.parentElement;
          list.scrollTop += li.getBoundingClientRect().top - list.getBoundingClientRect().top;
        }"""
    )
    looking_at = await top_card_in_view(ada)
    assert looking_at == "Card 20"
    field = ada.get_by_label("Add a card to Done")
    await field.click()
    await field.press_sequentially("Half-typ")

    # Meanwhile Grace moves cards from above Ada's view away, and adds one on top.
    for title in ("Card 00", "Card 01", "Card 02"):
        await card(grace, "To do", title).get_by_role("button", name=f"Move to… “{title}”").click()
        await grace.get_by_role("menuitem", name="In progress").click()
    await card(grace, "To do", "Card 03").get_by_role("button", name="Move to… “Card 03”").click()
    await grace.get_by_role("menuitem", name="Top of To do").click()
    async with as_user(site, ada_email) as http:
        made = await http.post(f"/boards/{board_id}/tasks", json={"title": "Card 99"})
        assert made.status_code == 201, made.text
    await expect(titles(ada, "In progress")).to_have_text(
        ["Card 00", "Card 01", "Card 02"], timeout=LIVE
    )
    await expect(titles(ada, "To do")).to_have_count(38, timeout=LIVE)

    # Her field kept focus and text; typing goes on where it was; her view did not move.
    await expect(field).to_be_focused()
    await expect(field).to_have_value("Half-typ")
    await field.press_sequentially("ed")
    await expect(field).to_have_value("Half-typed")
    assert await top_card_in_view(ada) == looking_at
    assert browsers.errors == []
