"""Filters answered by the API: text search, assignee and label narrow the board; clearing
shows every card again; a matching card created meanwhile appears."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, as_user, create_account, new_board, titles


async def test_search_assignee_and_label_filters(browsers: Browsers, site: str) -> None:
    ada = await browsers.open()
    ada_email = await create_account(ada, "Ada")
    board_id = await new_board(ada, "Filters")
    async with as_user(site, ada_email) as http:
        ada_id = (await http.get("/me")).json()["id"]
        label = (await http.post(f"/boards/{board_id}/labels", json={"name": "Docs"})).json()
        for title, extra in (
            ("Alpha release", {"assignee_ids": [ada_id]}),
            ("Beta plan", {}),
            ("Alpha docs", {"labels": [label["id"]]}),
        ):
            made = await http.post(f"/boards/{board_id}/tasks", json={"title": title, **extra})
            assert made.status_code == 201, made.text
    await expect(titles(ada, "To do")).to_have_count(3, timeout=LIVE)

    await ada.get_by_label("Search cards").fill("alpha")
    await expect(titles(ada, "To do")).to_have_text(["Alpha release", "Alpha docs"])
    await expect(ada.get_by_role("status")).to_have_text("2 matching cards")
    await ada.get_by_label("Assignee").select_option(label="Ada")
    await expect(titles(ada, "To do")).to_have_text(["Alpha release"])
    await ada.get_by_role("button", name="Clear filters").click()
    await expect(titles(ada, "To do")).to_have_count(3)

    await ada.get_by_label("Label").select_option(label="Docs")
    await expect(titles(ada, "To do")).to_have_text(["Alpha docs"])
    # A card that matches, made elsewhere while the filter is on, shows up; others do not.
    async with as_user(site, ada_email) as http:
        for title, labels in (("More docs", [label["id"]]), ("Unlabelled", [])):
            made = await http.post(
                f"/boards/{board_id}/tasks", json={"title": title, "labels": labels}
            )
            assert made.status_code == 201, made.text
    await expect(titles(ada, "To do")).to_have_text(["Alpha docs", "More docs"], timeout=LIVE)
    assert browsers.errors == []
