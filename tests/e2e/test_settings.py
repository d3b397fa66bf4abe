"""Board settings (admins): columns added and limited, labels added, renamed and deleted; the
teammates' boards follow live. A member gets no settings."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import Browsers
from tests.e2e.steps import LIVE, teammates


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
