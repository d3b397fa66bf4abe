"""Browser tests: Debian's chromium driven by Playwright against `taskboard up` (a real
process: embedded PostgreSQL and Redis, the api, the realtime hub and the worker on one port,
serving the built web client at /)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from loadtests.benchkit.site import CHROMIUM_FLAGS as SITE_CHROMIUM_FLAGS
from loadtests.benchkit.site import running_site
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from taskboard.api.web import WEB_DIST

ARTIFACTS = Path(__file__).parent / "artifacts"  # server output, kept for a failed run
# bench_web and the screenshots start Chromium with these too; QUIC is off here as well.
CHROMIUM_FLAGS = [*SITE_CHROMIUM_FLAGS, "--disable-quic"]


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("CI is set and no chromium is installed: `make browser` installs it")
    pytest.skip("no chromium on PATH (`make browser` installs Debian's, as root)")


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """`taskboard up --ephemeral` on a free port; its URL."""
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("the web client is not built: run `make web` (make check does)")
    ARTIFACTS.mkdir(exist_ok=True)
    with running_site(
        log=ARTIFACTS / "server.log",
        TASKBOARD_PASSWORD_HASH_MEMORY_KIB="64",
        # The settings test points a webhook at this machine.
        TASKBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
    ) as url:
        yield url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


class Browsers:
    """People at their own browsers: each `open()` is a fresh profile (cookies, storage) on the
    site. Console errors of every page (a CSP violation is one) are kept in `errors`."""

    def __init__(self, browser: Browser, site: str) -> None:
        self.browser = browser
        self.site = site
        self.errors: list[str] = []
        self._contexts: list[BrowserContext] = []

    async def open(self, *, touch: bool = False) -> Page:
        """`touch`: a touch screen (a phone or tablet) instead of a mouse."""
        context = await self.browser.new_context(base_url=self.site, has_touch=touch)
        self._contexts.append(context)
        page = await context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        await page.goto("/")
        return page

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every 4xx fetch as an error. A 401 is how the page learns nobody is
        # signed in (and how a wrong password is answered): expected, not a fault.
        if message.type == "error" and "status of 401" not in message.text:
            self.errors.append(message.text)

    async def close(self) -> None:
        for context in self._contexts:
            await context.close()


@pytest.fixture
async def browsers(browser: Browser, site: str) -> AsyncIterator[Browsers]:
    people = Browsers(browser, site)
    try:
        yield people
    finally:
        await people.close()
