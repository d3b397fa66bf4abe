"""Comments and replies on a card, seen live by a teammate with the card open; the card face
shows labels, assignees and an overdue due date; the board shows who is viewing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import (
    LIVE,
    as_user,
    card,
    teammates,
)


async def test_comments_and_replies_arrive_live(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(
        browsers, site, "Talk", ("Discuss",), member="Grace Hopper"
    )
    for page in (ada, grace):
        await (
            card(page, "To do", "Discuss").get_by_role("button", name="Discuss", exact=True).click()
        )
        await expect(page.get_by_role("dialog")).to_be_visible()

    await (
        ada.get_by_role("dialog")
        .get_by_role("textbox", name="Comment")
        .fill("Shall we **ship** it?")
    )
    await ada.get_by_role("button", name="Add comment").click()
    thread = grace.get_by_role("list", name="Comments").get_by_role(
        "listitem", name="Comment by Ada"
    )
    await expect(thread).to_contain_text("Shall we ship it?", timeout=LIVE)
    await expect(thread.locator("strong")).to_have_text("ship")
    # The card face counts it, for everyone.
    for page in (ada, grace):
        await expect(card(page, "To do", "Discuss").get_by_label("1 comment")).to_be_visible(
            timeout=LIVE
        )

    await thread.get_by_role("button", name="Reply to Ada").click()
    await (
        grace.get_by_role("dialog").get_by_role("textbox", name="Reply to Ada").fill("Yes, Friday.")
    )
    await grace.get_by_role("button", name="Reply", exact=True).click()
    answer = ada.get_by_role("list", name="Replies to Ada").get_by_role(
        "listitem", name="Reply by Grace Hopper"
    )
    await expect(answer).to_contain_text("Yes, Friday.", timeout=LIVE)

    # A mention picked from the members, highlighted for both.
    box = ada.get_by_role("dialog").get_by_role("textbox", name="Comment")
    await box.fill("Over to")
    await ada.get_by_role("dialog").get_by_label("Mention").select_option("Grace Hopper")
    await expect(box).to_have_value("Over to @Grace Hopper ")
    await ada.get_by_role("button", name="Add comment").click()
    for page in (ada, grace):
        await expect(page.locator(".comments .mention")).to_have_text("@Grace Hopper", timeout=LIVE)

    # The author edits a reply and deletes it; the teammate follows.
    mine = grace.get_by_role("listitem", name="Reply by Grace Hopper")
    await mine.get_by_role("button", name="Edit your reply").click()
    await mine.get_by_role("textbox", name="Edit your reply").fill("Yes, Monday.")
    await mine.get_by_role("button", name="Save reply").click()
    await expect(mine).to_contain_text("Yes, Monday.", timeout=LIVE)
    await expect(answer).to_contain_text("Yes, Monday.", timeout=LIVE)
    await expect(answer).to_contain_text("edited")
    # Nobody edits another's words: no such controls on Ada's comment for Grace.
    await expect(thread.get_by_role("button", name="Edit your comment")).to_have_count(0)
    await mine.get_by_role("button", name="Delete your reply").click()
    await mine.get_by_role("button", name="Delete reply").click()
    await expect(answer).to_have_count(0, timeout=LIVE)
    await expect(ada.get_by_role("list", name="Replies to Ada")).to_have_count(0)
    # Two comments and a reply were made, the reply deleted.
    await expect(card(grace, "To do", "Discuss").get_by_label("2 comments")).to_be_visible(
        timeout=LIVE
    )
    assert browsers.errors == []


async def test_card_face_and_who_is_viewing(browsers: Browsers, site: str) -> None:
    ada, grace, board_id, ada_email, _ = await teammates(
        browsers, site, "Faces", owner="Ada Lovelace", member="Grace Hopper"
    )
    # Grace joined after Ada opened the board: her name arrives with the member event.
    await expect(ada.get_by_label("Viewing now: Ada Lovelace, Grace Hopper")).to_be_visible(
        timeout=LIVE
    )
    async with as_user(site, ada_email) as http:
        grace_id = next(
            m["user_id"]
            for m in (await http.get(f"/boards/{board_id}/members")).json()["items"]
            if m["display_name"] == "Grace Hopper"
        )
        label = await http.post(f"/boards/{board_id}/labels", json={"name": "Urgent"})
        assert label.status_code == 201, label.text
        yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        made = await http.post(
            f"/boards/{board_id}/tasks",
            json={
                "title": "Late one",
                "assignee_ids": [grace_id],
                "labels": [label.json()["id"]],
                "due_at": yesterday,
            },
        )
        assert made.status_code == 201, made.text
    face = card(grace, "To do", "Late one")
    await expect(face).to_contain_text("Urgent", timeout=LIVE)
    await expect(face).to_contain_text("Overdue")
    await expect(face.get_by_label("Assigned to Grace Hopper")).to_have_text("GH")
    assert browsers.errors == []
