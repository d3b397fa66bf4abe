"""A thin client over the real app, with the few steps nearly every test repeats."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

PASSWORD = "correct horse battery staple"
_counter = itertools.count()


@dataclass
class User:
    id: str
    email: str
    headers: dict[str, str]
    tokens: dict[str, Any]


class ApiClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, url, **kwargs)

    async def user(self, name: str = "user") -> User:
        email = f"{name}-{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
        created = await self.http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": name.title()},
        )
        assert created.status_code == 201, created.text
        return await self.login(User(id=created.json()["id"], email=email, headers={}, tokens={}))

    async def login(self, user: User) -> User:
        """Sign `user` in again: a fresh token (carrying a changed site role, say)."""
        login = await self.http.post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        self.http.cookies.clear()  # each User authenticates by header only
        return User(
            id=user.id,
            email=user.email,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            tokens=tokens,
        )

    async def board(self, owner: User, name: str = "Board") -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/boards", json={"name": name}, headers=owner.headers
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def add_member(self, board_id: str, owner: User, user: User, role: str) -> None:
        response = await self.http.put(
            f"/api/v1/boards/{board_id}/members/{user.id}",
            json={"role": role},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text

    async def task(self, board_id: str, user: User, **fields: Any) -> dict[str, Any]:
        body = {"title": "A task", **fields}
        response = await self.http.post(
            f"/api/v1/boards/{board_id}/tasks", json=body, headers=user.headers
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 30,
    every: float = 0.1,
) -> T:
    """The first value of `probe()` that `done` accepts, or the last one when `timeout` runs
    out (the caller's assertion then shows what was missing). For what the system does
    asynchronously by design: workers, streams, retries."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(every)
