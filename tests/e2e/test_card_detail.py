"""A card's details: Markdown shown safely, edits sent with If-Match, and a conflicting edit
never lost: the 412 shows both versions and the editor chooses."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import (
    LIVE,
    card,
    teammates,
)


async def open_card(page: Page, column: str, title: str) -> None:
    await card(page, column, title).get_by_role("button", name=title, exact=True).click()
    await expect(page.get_by_role("dialog")).to_be_visible()


async def edit_description(page: Page, text: str) -> None:
    dialog = page.get_by_role("dialog")
    await dialog.get_by_role("button", name="Edit").click()
    await dialog.get_by_label("Description").fill(text)


async def test_a_conflicting_edit_offers_both_versions(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Specs", ("Spec",))

    # Grace starts editing; Ada saves first.
    await open_card(grace, "To do", "Spec")
    await edit_description(grace, "Grace's words")
    await open_card(ada, "To do", "Spec")
    await edit_description(ada, "Ada's **words**")
    await ada.get_by_role("dialog").get_by_label("Priority").select_option("high")
    await ada.get_by_role("dialog").get_by_role("button", name="Save").click()
    ada_view = ada.get_by_role("dialog").get_by_label("Description")
    await expect(ada_view.locator("strong")).to_have_text("words")
    # Grace's draft is untouched by the change arriving live.
    await expect(grace.get_by_role("dialog").get_by_label("Description")).to_have_value(
        "Grace's words"
    )

    await grace.get_by_role("dialog").get_by_role("button", name="Save").click()
    conflict = grace.get_by_role("alert")
    await expect(conflict).to_contain_text("Someone else changed this card")
    await expect(conflict.get_by_role("region", name="Their version")).to_contain_text(
        "Ada's words"
    )
    await expect(conflict.get_by_role("region", name="Your version")).to_contain_text(
        "Grace's words"
    )
    await expect(conflict).to_contain_text("They changed description, priority.")
    await conflict.get_by_role("button", name="Keep mine").click()
    for page in (grace, ada):
        description = page.get_by_role("dialog").get_by_label("Description")
        await expect(description).to_have_text("Grace's words", timeout=LIVE)
        # Only what Grace changed was kept: Ada's priority stands.
        await expect(page.get_by_role("dialog")).to_contain_text("priority high")
    assert all("status of 412" in error for error in browsers.errors), browsers.errors


async def test_taking_theirs_and_markdown_shown_safely(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Safe", ("Risky",))
    await open_card(grace, "To do", "Risky")
    await edit_description(grace, "mine")

    hostile = (
        "Hello <img src=x onerror=\"document.title='owned'\"> "
        "<script>document.title='owned'</script> [link](javascript:alert(1)) *ok*"
    )
    await open_card(ada, "To do", "Risky")
    await edit_description(ada, hostile)
    await ada.get_by_role("dialog").get_by_role("button", name="Save").click()

    await grace.get_by_role("dialog").get_by_role("button", name="Save").click()
    await grace.get_by_role("alert").get_by_role("button", name="Take theirs").click()
    shown = grace.get_by_role("dialog").get_by_label("Description")
    await expect(shown.locator("em")).to_have_text("ok", timeout=LIVE)
    html = await shown.inner_html()
    assert "onerror" not in html
    assert "<script" not in html
    assert "javascript:" not in html
    assert await grace.title() == "taskboard"
    assert await ada.title() == "taskboard"


async def test_editing_priority_dates_and_assignees(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(
        browsers, site, "Fields", ("Plan",), member="Grace Hopper"
    )

    await open_card(ada, "To do", "Plan")
    dialog = ada.get_by_role("dialog")
    await dialog.get_by_role("button", name="Edit").click()
    await dialog.get_by_label("Priority").select_option("high")
    await dialog.get_by_label("Due").fill("2031-05-04T17:30")  # the viewer's local time
    await dialog.get_by_role("checkbox", name="Grace Hopper").check()
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_contain_text("priority high")
    await expect(dialog).to_contain_text("Assigned to Grace Hopper")

    face = card(grace, "To do", "Plan")
    await expect(face.get_by_label("Assigned to Grace Hopper")).to_have_text("GH", timeout=LIVE)
    await expect(face).to_contain_text("Due")
    # The instant round-trips: Grace (same time zone) sees the same local time to edit.
    await open_card(grace, "To do", "Plan")
    await grace.get_by_role("dialog").get_by_role("button", name="Edit").click()
    await expect(grace.get_by_role("dialog").get_by_label("Due")).to_have_value("2031-05-04T17:30")
    await expect(grace.get_by_role("dialog").get_by_label("Priority")).to_have_value("high")

    # The card's history from the event log, newest first, live as it grows.
    history = grace.get_by_role("list", name="Activity").get_by_role("listitem")
    await expect(history).to_have_text(
        [
            re.compile(r"^Ada changed the assignees, the due date, the priority ·"),
            re.compile(r"^Ada created the card ·"),
        ]
    )
    await ada.get_by_role("dialog").get_by_role("button", name="Close").click()
    await card(ada, "To do", "Plan").get_by_role("button", name="Move to… “Plan”").click()
    await ada.get_by_role("menuitem", name="Done").click()
    await expect(history.first).to_have_text(re.compile(r"^Ada moved it to Done ·"), timeout=LIVE)
    assert browsers.errors == []
