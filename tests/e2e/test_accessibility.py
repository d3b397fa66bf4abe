"""axe-core's WCAG 2.x A/AA rules over every screen, in the light and the dark colour scheme:
labels, names, roles, contrast, target sizes. A violation fails with the rule, the element and
axe's explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.steps import add_card, card, create_account, new_board

AXE = Path(__file__).parents[2] / "services/web/node_modules/axe-core/axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


async def violations(page: Page) -> list[str]:
    if not await page.evaluate("() => 'axe' in window"):
        await page.add_script_tag(path=AXE)
    found: list[dict[str, Any]] = await page.evaluate(
        "async (tags) => (await axe.run(document, { runOnly: { type: 'tag', values: tags } }))"
        ".violations",
        TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {node['failureSummary']}"
        for v in found
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_every_screen_passes_axe(browser: Browser, site: str, scheme: str) -> None:
    if not AXE.is_file():
        pytest.fail("axe-core is not installed: `make check` installs the web client's packages")
    # The page's CSP refuses injected scripts, rightly; the audit alone goes around it.
    context = await browser.new_context(
        base_url=site,
        bypass_csp=True,
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    try:
        page = await context.new_page()
        await page.goto("/")
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        seen = {"sign in": await violations(page)}
        await create_account(page, "Ada")
        seen["boards"] = await violations(page)
        await new_board(page, f"Audit {scheme}")
        await add_card(page, "To do", "Check contrast")
        await expect(card(page, "To do", "Check contrast")).to_be_visible()
        await (
            card(page, "To do", "Check contrast")
            .get_by_role("button", name="Move to… “Check contrast”")
            .click()
        )
        seen["board with a menu open"] = await violations(page)
        await page.keyboard.press("Escape")
        await (
            card(page, "To do", "Check contrast")
            .get_by_role("button", name="Check contrast", exact=True)
            .click()
        )
        await expect(page.get_by_role("dialog")).to_be_visible()
        seen["card detail"] = await violations(page)
        await page.get_by_role("dialog").get_by_role("button", name="Close").click()
        await page.get_by_role("button", name="Board settings").click()
        await expect(page.get_by_role("dialog", name="Board settings")).to_be_visible()
        seen["board settings"] = await violations(page)
    finally:
        await context.close()
    assert {screen: found for screen, found in seen.items() if found} == {}
