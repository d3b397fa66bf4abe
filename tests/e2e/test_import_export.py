"""Boards out and in through the browser: an admin downloads a board's export from its
settings and imports it as a new board, and imports Trello's export; progress and the result
are shown, the new board opens with its cards in order."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, add_card, create_account, new_board, titles

TRELLO = Path(__file__).parents[1] / "fixtures/trello/board.json"


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    return Path(path).read_text(encoding=encoding)


async def test_export_then_import_and_trello(browsers: Browsers, site: str) -> None:
    ada = await browsers.open()
    await create_account(ada, "Ada")
    await new_board(ada, "Roadmap")
    for title in ("Alpha", "Beta"):
        await add_card(ada, "To do", title)
    await expect(titles(ada, "To do")).to_have_text(["Alpha", "Beta"])
    await expect(ada.locator("li.card.pending")).to_have_count(0)

    await ada.get_by_role("button", name="Board settings").click()
    async with ada.expect_download() as downloading:
        await ada.get_by_role("link", name="The board (JSON)").click()
    exported = json.loads(read_text(await (await downloading.value).path()))
    assert exported["format"] == "taskboard.board"
    assert [t["title"] for t in exported["tasks"]] == ["Alpha", "Beta"]
    async with ada.expect_download() as downloading:
        await ada.get_by_role("link", name="Tasks (CSV)").click()
    csv = read_text(await (await downloading.value).path(), "utf-8-sig")
    assert csv.splitlines()[1].startswith("Alpha,")
    await ada.get_by_role("dialog").get_by_role("button", name="Close").click()

    await ada.get_by_role("link", name="taskboard").click()
    await ada.get_by_label("From").select_option("taskboard")
    exported["board"]["name"] = "Roadmap copy"
    await ada.get_by_label("Board file").set_input_files(
        files=[
            {
                "name": "roadmap.json",
                "mimeType": "application/json",
                "buffer": json.dumps(exported).encode(),
            }
        ]
    )
    await ada.get_by_role("button", name="Import", exact=True).click()
    status = ada.get_by_role("status").filter(has_text="Import")
    await expect(status).to_contain_text("Imported.", timeout=LIVE)
    await expect(ada.get_by_role("link", name="Roadmap copy")).to_be_visible()
    await ada.get_by_role("link", name="Open the imported board").click()
    await expect(ada.get_by_role("heading", name="Roadmap copy")).to_be_visible()
    await expect(titles(ada, "To do")).to_have_text(["Alpha", "Beta"])

    await ada.get_by_role("link", name="taskboard").click()
    await ada.get_by_label("From").select_option("trello")
    await ada.get_by_label("Board file").set_input_files(TRELLO)
    await ada.get_by_role("button", name="Import", exact=True).click()
    await expect(status).to_contain_text("Imported.", timeout=LIVE)
    # Trello's members have no account here: said, not silently dropped.
    await expect(status).to_contain_text("Not matched to an account here")
    await ada.get_by_role("link", name="Open the imported board").click()
    await expect(ada.get_by_role("heading", name="Website relaunch")).to_be_visible()
    await expect(titles(ada, "To Do")).to_have_text(["Pick the fonts", "Write the copy"])
    assert browsers.errors == []
