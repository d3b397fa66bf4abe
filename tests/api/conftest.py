"""Fixtures shared by the api tests: a signed-up owner and a board of theirs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import ApiClient, User


@pytest.fixture
async def owner(api: ApiClient) -> User:
    return await api.user("owner")


@pytest.fixture
async def board(api: ApiClient, owner: User) -> dict[str, Any]:
    return await api.board(owner)
