"""Files on cards in the browser: attached from the card's details or dropped on the card,
seen live by a teammate with the card open, downloaded as files that cannot run, removed."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, card, teammates

PAGE = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


async def test_attach_drop_download_and_remove(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Files", ("Specs", "Notes"))
    for page in (ada, grace):
        await card(page, "To do", "Specs").get_by_role("button", name="Specs", exact=True).click()
        await expect(page.get_by_role("dialog")).to_be_visible()
    files = ada.get_by_role("dialog").get_by_role("list", name="Attachments")
    await (
        ada.get_by_role("dialog")
        .get_by_label("Attach files")
        .set_input_files(files=[{"name": "page.html", "mimeType": "text/html", "buffer": PAGE}])
    )
    await expect(files.get_by_role("listitem", name="page.html")).to_be_visible()
    theirs = grace.get_by_role("dialog").get_by_role("list", name="Attachments")
    await expect(theirs.get_by_role("listitem", name="page.html")).to_be_visible(timeout=LIVE)
    await expect(grace.get_by_role("list", name="Activity")).to_contain_text(
        "Ada attached page.html", timeout=LIVE
    )

    # Downloaded as a file to save, never as a page of this origin.
    href = await files.get_by_role("link", name="page.html").get_attribute("href")
    assert href is not None
    got = await ada.request.get(href)
    assert got.status == 200
    assert await got.body() == PAGE
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"

    # A file dropped on another card is attached to that card.
    await ada.get_by_role("dialog").get_by_role("button", name="Close").click()
    dropped = await ada.evaluate_handle(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File(["remember the milk"], "todo.txt", { type: "text/plain" }));
          return data;
        }"""
    )
    await card(ada, "To do", "Notes").dispatch_event("drop", {"dataTransfer": dropped})
    await expect(ada.get_by_text("Attached “todo.txt” to “Notes”.")).to_be_attached(timeout=LIVE)
    await card(ada, "To do", "Notes").get_by_role("button", name="Notes", exact=True).click()
    await expect(files.get_by_role("listitem", name="todo.txt")).to_be_visible()

    # Removed by its uploader; gone for the teammate too.
    await ada.get_by_role("dialog").get_by_role("button", name="Close").click()
    await card(ada, "To do", "Specs").get_by_role("button", name="Specs", exact=True).click()
    await files.get_by_role("button", name="Remove page.html").click()
    await expect(theirs.get_by_role("listitem", name="page.html")).to_have_count(0, timeout=LIVE)
    assert browsers.errors == []
