"""Board settings (admins): members added by e-mail, their roles changed and removed; columns
added, limited, moved and deleted; labels added, renamed and deleted; webhooks added, disabled
and deleted. The teammates' boards follow live. A member gets no settings."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import (
    LIVE,
    add_card,
    as_user,
    create_account,
    new_board,
    open_board,
    teammates,
    titles,
)


async def test_columns_and_labels_change_live(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Settings")
    await expect(grace.get_by_role("button", name="Board settings")).to_have_count(0)

    await ada.get_by_role("button", name="Board settings").click()
    settings = ada.get_by_role("dialog", name="Board settings")
    await settings.get_by_label("New column").fill("Review")
    await settings.get_by_role("button", name="Add column").click()
    await expect(grace.get_by_role("list", name="Review")).to_be_visible(timeout=LIVE)
    await expect(settings.get_by_label("Name of Review")).to_be_visible()

    await settings.get_by_label("WIP limit of To do").fill("3")
    await settings.get_by_role("button", name="Save To do").click()
    await expect(grace.get_by_role("heading", name="To do 0 / 3")).to_be_visible(timeout=LIVE)

    await settings.get_by_label("New label").fill("Bug")
    await settings.get_by_role("button", name="Add label").click()
    await expect(grace.get_by_label("Label").locator("option", has_text="Bug")).to_have_count(
        1, timeout=LIVE
    )
    await settings.get_by_role("textbox", name="Label Bug").fill("Defect")
    await settings.get_by_role("button", name="Save label Bug").click()
    await expect(grace.get_by_label("Label").locator("option", has_text="Defect")).to_have_count(
        1, timeout=LIVE
    )
    await settings.get_by_role("button", name="Delete label Defect").click()
    await expect(grace.get_by_label("Label").locator("option", has_text="Defect")).to_have_count(
        0, timeout=LIVE
    )
    assert browsers.errors == []


async def test_members_by_email_and_their_roles_live(browsers: Browsers, site: str) -> None:
    ada = await browsers.open()
    await create_account(ada, "Ada")
    await new_board(ada, "Crew")
    grace = await browsers.open()
    grace_email = await create_account(grace, "Grace")

    await ada.get_by_role("button", name="Board settings").click()
    settings = ada.get_by_role("dialog", name="Board settings")
    await settings.get_by_label("Member's email").fill("nobody-at-all@example.com")
    await settings.get_by_role("button", name="Add member").click()
    await expect(settings.get_by_role("alert")).to_contain_text("email")
    # E-mail as the person typed it at sign-up or not: matched the way sign-in matches it.
    await settings.get_by_label("Member's email").fill(grace_email.upper())
    await settings.get_by_label("New member's role").select_option("viewer")
    await settings.get_by_role("button", name="Add member").click()
    members = settings.get_by_role("list", name="Members")
    await expect(members.get_by_label("Role of Grace")).to_have_value("viewer")

    # A viewer reads: no field to add cards, no "Move to…".
    await open_board(grace, "Crew")
    await expect(grace.get_by_role("list", name="To do")).to_be_visible()
    await expect(grace.get_by_label("Add a card to To do")).to_have_count(0)
    # Made a member while looking: the controls arrive without a reload.
    await members.get_by_label("Role of Grace").select_option("member")
    await expect(grace.get_by_label("Add a card to To do")).to_be_visible(timeout=LIVE)
    await add_card(grace, "To do", "From Grace")
    await expect(titles(ada, "To do")).to_have_text(["From Grace"], timeout=LIVE)

    await members.get_by_role("button", name="Remove Grace").click()
    await members.get_by_role("button", name="Yes, remove Grace").click()
    await expect(members).not_to_contain_text("Grace")
    await expect(grace.get_by_role("alert")).to_have_text(
        "You were removed from this board.", timeout=LIVE
    )
    # The unknown e-mail was a 4xx, which Chromium logs; nothing else went wrong.
    assert all("status of 4" in error for error in browsers.errors), browsers.errors


async def test_columns_move_and_delete_and_webhooks(browsers: Browsers, site: str) -> None:
    ada, grace, board_id, ada_email, _ = await teammates(browsers, site, "Flow", ("Card",))
    await ada.get_by_role("button", name="Board settings").click()
    settings = ada.get_by_role("dialog", name="Board settings")

    await settings.get_by_role("button", name="Move Done left").click()
    headings = grace.locator(".column h2")
    await expect(headings).to_have_text(
        [re.compile("^To do"), re.compile("^Done"), re.compile("^In progress")], timeout=LIVE
    )
    await settings.get_by_role("button", name="Delete column To do").click()
    await settings.get_by_label("Move its cards to").select_option(label="In progress")
    await settings.get_by_role("button", name="Delete To do").click()
    await expect(grace.get_by_role("list", name="To do")).to_have_count(0, timeout=LIVE)
    await expect(titles(grace, "In progress")).to_have_text(["Card"], timeout=LIVE)

    await settings.get_by_label("Webhook URL").fill("http://127.0.0.1:9/hook")
    await settings.get_by_label("Events", exact=False).fill("task.created, task.moved")
    await settings.get_by_role("button", name="Add webhook").click()
    await expect(settings.locator("output.secret")).to_contain_text("whsec_")
    hooks = settings.get_by_role("list", name="Webhooks")
    await expect(hooks).to_contain_text("task.created, task.moved")
    await hooks.get_by_role("checkbox", name="Enabled").uncheck()
    await expect(hooks).to_contain_text("Paused")  # as the server now lists it
    async with as_user(site, ada_email) as http:
        listed = (await http.get(f"/boards/{board_id}/webhooks")).json()["items"]
    assert [(h["url"], h["enabled"]) for h in listed] == [("http://127.0.0.1:9/hook", False)]
    await expect(hooks.get_by_role("checkbox", name="Enabled")).not_to_be_checked()
    await hooks.get_by_role("button", name="Delete webhook http://127.0.0.1:9/hook").click()
    await expect(hooks).to_have_text("No webhooks.")
    assert browsers.errors == []
