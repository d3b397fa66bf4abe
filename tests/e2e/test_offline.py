"""Changes made offline wait, shown as made, and are sent in order once the browser is back:
each applied once, seen by a teammate."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import (
    LIVE,
    add_card,
    card,
    teammates,
    titles,
)


async def test_offline_changes_replay_once_back_online(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Train", ("Before",))

    await ada.context.set_offline(True)
    await add_card(ada, "To do", "Written in a tunnel")
    await card(ada, "To do", "Before").get_by_role("button", name="Move to… “Before”").click()
    await ada.get_by_role("menuitem", name="Done").click()
    # Shown at once, and said to be waiting.
    await expect(titles(ada, "Done")).to_have_text(["Before"])
    await expect(card(ada, "To do", "Written in a tunnel")).to_be_visible()
    await expect(ada.get_by_role("status")).to_contain_text("2 changes waiting to be sent")
    # Nothing reached the teammate.
    await grace.wait_for_timeout(500)
    await expect(titles(grace, "To do")).to_have_text(["Before"])

    await ada.context.set_offline(False)
    for page in (ada, grace):
        await expect(titles(page, "To do")).to_have_text(["Written in a tunnel"], timeout=LIVE)
        await expect(titles(page, "Done")).to_have_text(["Before"], timeout=LIVE)
    await expect(ada.get_by_role("status")).to_have_count(0)
    await expect(ada.get_by_text("Live", exact=True)).to_be_visible(timeout=LIVE)
    # Applied once each: a reload shows exactly these cards.
    await ada.reload()
    await expect(titles(ada, "To do")).to_have_text(["Written in a tunnel"])
    await expect(titles(ada, "Done")).to_have_text(["Before"])
