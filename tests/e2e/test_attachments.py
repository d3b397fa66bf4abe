"""Files on cards in the browser: attached from the card's details or dropped on the card,
seen live by a teammate with the card open, downloaded as files that cannot run, removed."""

from __future__ import annotations

import struct
import zlib

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, card, teammates


# A 64x48 PNG, drawn by the standard library (zlib): a real image for the worker to shrink.
def _png(width: int = 64, height: int = 48) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = _png()
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


async def test_an_image_becomes_the_cards_cover_for_everyone(browsers: Browsers, site: str) -> None:
    ada, grace, _, _, _ = await teammates(browsers, site, "Covers", ("Logo",))
    await card(ada, "To do", "Logo").get_by_role("button", name="Logo", exact=True).click()
    await (
        ada.get_by_role("dialog")
        .get_by_label("Attach files")
        .set_input_files(files=[{"name": "logo.png", "mimeType": "image/png", "buffer": PNG}])
    )
    # The worker makes the thumbnail; every open board shows it on the card.
    for page in (grace, ada):
        cover = card(page, "To do", "Logo").locator("img.cover")
        await expect(cover).to_be_visible(timeout=LIVE)
        assert await cover.evaluate("img => img.complete && img.naturalWidth > 0")
    files = ada.get_by_role("dialog").get_by_role("list", name="Attachments")
    await expect(files.get_by_role("listitem", name="logo.png").locator("img")).to_be_visible()
    assert browsers.errors == []
