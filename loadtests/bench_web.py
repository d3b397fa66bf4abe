#!/usr/bin/env python3
"""Web client benchmark: a 5,000-card board in real Chromium (Debian's, driven by Playwright),
against `taskboard up` (embedded PostgreSQL and Redis, api, socket and worker on one port).

  load    navigation to a usable board: every card in the page and the socket live,
          measured in the page (performance.now() from navigation start), N times
  event   one remote create (another user, over the API) until its card is in the page and
          painted, measured in the page from the socket frame's arrival, N times
  bundle  the JavaScript and CSS the board needs, gzipped (the card-detail chunk apart)

    .venv/bin/python loadtests/bench_web.py                # 5,000 cards
    .venv/bin/python loadtests/bench_web.py --cards 300    # a smoke-sized run
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import secrets
import shutil
import statistics
import sys
from typing import Any

import httpx
from playwright.async_api import async_playwright

from benchkit.host import machine_summary
from benchkit.site import CHROMIUM_FLAGS, running_site
from taskboard.api.web import WEB_DIST

PASSWORD = "benchmark-password"
COLUMNS = ("todo", "in_progress", "done")
# Stamps the arrival of every socket frame that names a task, before the app's own handler
# runs (a listener added at construction fires before the onmessage the app sets later).
FRAME_CLOCK = """
window.__frames = {};
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (message) => {
      const found = /"title":"(bench-[^"]+)"/.exec(message.data);
      if (found) window.__frames[found[1]] = performance.now();
    });
  }
};
"""
# Resolves when the card titled `title` is in the page, then after the next paint.
CARD_SHOWN = """
(title) => new Promise((resolve) => {
  const shown = () => document.querySelector(`li.card[aria-label="${title}"]`);
  const done = () => {
    const inserted = performance.now();
    requestAnimationFrame(() => setTimeout(() => resolve({
      frame: window.__frames[title], inserted, painted: performance.now(),
    }), 0));
  };
  if (shown()) return done();
  new MutationObserver((_, observer) => {
    if (shown()) { observer.disconnect(); done(); }
  }).observe(document.body, { childList: true, subtree: true });
})
"""


async def account(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    made = await http.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "display_name": name}
    )
    made.raise_for_status()
    login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    http.cookies.clear()
    return {"id": made.json()["id"], "email": email, "token": login.json()["access_token"]}


async def fill_board(http: httpx.AsyncClient, owner: dict[str, str], cards: int) -> str:
    auth = {"Authorization": f"Bearer {owner['token']}"}
    board = await http.post("/boards", json={"name": "Big board"}, headers=auth)
    board.raise_for_status()
    board_id: str = board.json()["id"]
    semaphore = asyncio.Semaphore(8)

    async def create(n: int) -> None:
        async with semaphore:
            made = await http.post(
                f"/boards/{board_id}/tasks",
                json={
                    "title": f"Card {n:05d}: a title of a usual length",
                    "status": COLUMNS[n % 3],
                },
                headers=auth,
            )
            made.raise_for_status()

    await asyncio.gather(*(create(n) for n in range(cards)))
    return board_id


def bundle() -> dict[str, float]:
    """Gzipped KiB: what index.html loads (the board) apart from the chunks loaded on first use
    (card details, board settings and what only they share), summed by kind."""
    index = (WEB_DIST / "index.html").read_text()
    sizes: dict[str, float] = {}
    for path in sorted((WEB_DIST / "assets").iterdir()):
        if path.name in index:
            kind = "board"
        elif path.name.startswith("CardDetail"):
            kind = "detail"
        else:
            kind = "later"  # board settings and chunks shared by lazy ones
        key = f"{kind}_{path.suffix.lstrip('.')}_gzip_kib"
        size = len(gzip.compress(path.read_bytes(), 9)) / 1024
        sizes[key] = round(sizes.get(key, 0) + size, 1)
    return sizes


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "min_ms": round(ordered[0], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def measure(site: str, args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"{site}/api/v1", timeout=60) as http:
        owner = await account(http, "owner")
        viewer = await account(http, "viewer")
        board_id = await fill_board(http, owner, args.cards)
        added = await http.put(
            f"/boards/{board_id}/members/{viewer['id']}",
            json={"role": "member"},
            headers={"Authorization": f"Bearer {owner['token']}"},
        )
        added.raise_for_status()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
            )
            context = await browser.new_context(base_url=site)
            await context.add_init_script(FRAME_CLOCK)
            page = await context.new_page()
            await page.goto("/")
            await page.get_by_label("Email").fill(viewer["email"])
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", name="Boards").wait_for()
            loads: list[float] = []
            for _ in range(args.repeat):
                await page.goto(f"/#/boards/{board_id}")
                await page.reload()  # a fresh page: nothing of the last load kept
                usable = await page.wait_for_function(
                    f"""() => document.querySelectorAll('li.card').length === {args.cards}
                        && document.querySelector('.status.online') !== null
                        && performance.now()""",
                    polling="raf",
                    timeout=120_000,
                )
                loads.append(float(await usable.json_value()))
            events: list[dict[str, float]] = []
            auth = {"Authorization": f"Bearer {owner['token']}"}
            for n in range(args.repeat):
                title = f"bench-{n}"
                shown = asyncio.ensure_future(page.evaluate(CARD_SHOWN, title))
                await asyncio.sleep(0.2)
                made = await http.post(
                    f"/boards/{board_id}/tasks", json={"title": title}, headers=auth
                )
                made.raise_for_status()
                events.append(await shown)
            await browser.close()
    return {
        "cards": args.cards,
        "navigation_to_usable": summary(loads),
        "frame_to_card_in_page": summary([e["inserted"] - e["frame"] for e in events]),
        "frame_to_painted": summary([e["painted"] - e["frame"] for e in events]),
        "bundle": bundle(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (WEB_DIST / "index.html").is_file():
        sys.exit("build the web client first: make web")
    if not shutil.which("chromium"):
        sys.exit("needs Debian's chromium: make browser (as root)")
    print(f"machine: {machine_summary()}", flush=True)
    with running_site(TASKBOARD_QUOTA_TASKS_PER_BOARD="100000") as site:
        results = asyncio.run(measure(site, args))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
