#!/usr/bin/env python3
"""Screenshots of the web client for the README: the sign-in page, a board and a card's
details, taken in Debian's Chromium against `taskboard up` (written to docs/images/).

    .venv/bin/python loadtests/screenshots.py             # into docs/images/
    .venv/bin/python loadtests/screenshots.py --out DIR   # elsewhere
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from benchkit.site import CHROMIUM_FLAGS, running_site
from taskboard.api.web import WEB_DIST

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
PASSWORD = "screenshot-password"
CARDS = {
    "todo": ["Draft the launch post", "Pick the beta testers", "Price the team plan"],
    "in_progress": ["Onboarding e-mails", "Billing page"],
    "done": ["Sign-up flow", "Kanban board"],
}
DESCRIPTION = """The e-mails new teams get in their **first week**:

- day 0: welcome, and how to invite teammates
- day 2: boards and columns
- day 5: reminders and webhooks

See the [style guide](https://example.com/style) before writing."""


async def seed(site: str) -> tuple[str, str]:
    """An account with a board of cards; (e-mail, board id)."""
    email = f"ada-{secrets.token_hex(3)}@example.com"
    async with httpx.AsyncClient(base_url=f"{site}/api/v1") as http:
        made = await http.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Ada Lovelace"},
        )
        made.raise_for_status()
        login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        http.cookies.clear()
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        board = await http.post("/boards", json={"name": "Product launch"}, headers=auth)
        board_id: str = board.json()["id"]
        for status, titles in CARDS.items():
            for title in titles:
                task = await http.post(
                    f"/boards/{board_id}/tasks",
                    json={"title": title, "status": status, "description": DESCRIPTION},
                    headers=auth,
                )
                task.raise_for_status()
    return email, board_id


async def shoot(page: Page, out: Path, name: str) -> None:
    await page.wait_for_timeout(300)  # let focus rings and fonts settle
    await page.screenshot(path=str(out / f"{name}.png"))
    print(f"wrote {out / name}.png")


async def take(site: str, out: Path) -> None:
    email, board_id = await seed(site)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        context = await browser.new_context(
            base_url=site, viewport={"width": 1100, "height": 640}, color_scheme="light"
        )
        page = await context.new_page()
        await page.goto("/")
        await page.get_by_role("button", name="Sign in").wait_for()
        await shoot(page, out, "sign-in")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Boards").wait_for()
        await page.goto(f"/#/boards/{board_id}")
        await page.get_by_text("Live", exact=True).wait_for()
        await shoot(page, out, "board")
        await page.get_by_role("button", name="Onboarding e-mails", exact=True).click()
        await page.get_by_role("dialog").wait_for()
        await shoot(page, out, "card-detail")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNG files go")
    args = parser.parse_args()
    if not (WEB_DIST / "index.html").is_file():
        sys.exit("build the web client first: make web")
    if not shutil.which("chromium"):
        sys.exit("needs Debian's chromium: make browser (as root)")
    args.out.mkdir(parents=True, exist_ok=True)
    with running_site() as site:
        asyncio.run(take(site, args.out))


if __name__ == "__main__":
    main()
