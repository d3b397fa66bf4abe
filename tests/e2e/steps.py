"""What a person does in the browser, as steps the tests share."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NamedTuple

import httpx
from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import Browsers

PASSWORD = "correct horse battery"
LIVE = 15_000  # ms: a generous bound for a busy machine, not a measurement


async def create_account(page: Page, name: str) -> str:
    email = f"{name.lower().replace(' ', '.')}-{uuid.uuid4().hex[:8]}@example.com"
    await page.get_by_role("button", name="New here? Create account").click()
    await page.get_by_label("Display name").fill(name)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Boards")).to_be_visible()
    return email


async def sign_in(page: Page, email: str) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Boards")).to_be_visible()


async def add_card(page: Page, column: str, title: str) -> None:
    field = page.get_by_label(f"Add a card to {column}")
    await field.fill(title)
    await field.press("Enter")


def card(page: Page, column: str, title: str) -> Locator:
    return page.get_by_role("list", name=column).get_by_role("listitem", name=title)


@asynccontextmanager
async def as_user(site: str, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """An API client signed in as `email`, for what has no screen yet."""
    async with httpx.AsyncClient(base_url=f"{site}/api/v1") as http:
        login = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        http.cookies.clear()
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield http


async def add_member(site: str, owner_email: str, member_email: str, board_id: str) -> None:
    """Board settings are a later screen: the owner adds the member through the API."""
    async with as_user(site, member_email) as member:
        member_id = (await member.get("/me")).json()["id"]
    async with as_user(site, owner_email) as owner:
        added = await owner.put(f"/boards/{board_id}/members/{member_id}", json={"role": "member"})
        assert added.status_code == 200, added.text


async def new_board(page: Page, name: str) -> str:
    """Create a board from the boards list and wait until it is live; its id."""
    await page.get_by_label("New board").fill(name)
    await page.get_by_role("button", name="Create board").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.get_by_text("Live", exact=True)).to_be_visible()
    return page.url.rsplit("/", 1)[-1]


async def open_board(page: Page, name: str) -> None:
    await page.goto("/")
    await page.get_by_role("link", name=name).click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.get_by_text("Live", exact=True)).to_be_visible()


def titles(page: Page, column: str) -> Locator:
    """The column's cards, in order (their handles carry the titles)."""
    return page.get_by_role("list", name=column).locator("li.card .grip")


class Team(NamedTuple):
    owner: Page
    member: Page
    board_id: str
    owner_email: str
    member_email: str


async def teammates(
    browsers: Browsers,
    site: str,
    board: str,
    cards: tuple[str, ...] = (),
    owner: str = "Ada",
    member: str = "Grace",
    touch: bool = False,
) -> Team:
    """`owner` creates `board` with `cards` in "To do"; `member` joins and has it open, live."""
    owner_page = await browsers.open(touch=touch)
    owner_email = await create_account(owner_page, owner)
    board_id = await new_board(owner_page, board)
    for title in cards:
        await add_card(owner_page, "To do", title)
    member_page = await browsers.open()
    member_email = await create_account(member_page, member)
    await add_member(site, owner_email, member_email, board_id)
    await open_board(member_page, board)
    # Every card saved (the member's page loaded them), none left as a placeholder.
    await expect(titles(member_page, "To do")).to_have_text(list(cards))
    await expect(owner_page.locator("li.card.pending")).to_have_count(0)
    return Team(owner_page, member_page, board_id, owner_email, member_email)
