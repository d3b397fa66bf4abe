"""Notification preferences and the one-click unsubscribe link of every e-mail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from taskboard.core.config import Settings
from taskboard.notifications import unsubscribe
from tests.api.problems import assert_problem
from tests.helpers import ApiClient

URL = "/api/v1/notifications/preferences"
KINDS = [
    "mention",
    "reply",
    "comment",
    "assigned",
    "unassigned",
    "status_changed",
    "due_soon",
    "overdue",
    "webhook_disabled",
]


async def test_defaults_then_changes(api: ApiClient) -> None:
    ada = await api.user("ada")
    defaults = await api.request("GET", URL, headers=ada.headers)
    assert defaults.json() == {
        "in_app": KINDS,
        "email": KINDS,
        "reminder_offsets_minutes": [1440, 60],
    }
    changed = await api.request(
        "PATCH", URL, json={"email": ["mention", "overdue"]}, headers=ada.headers
    )
    assert changed.status_code == 200, changed.text
    again = await api.request("GET", URL, headers=ada.headers)
    assert again.json() == {**defaults.json(), "email": ["mention", "overdue"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": ["gossip"]}, "email.0"),
        ({"email": None}, "email"),
        ({"reminder_offsets_minutes": [0]}, "reminder_offsets_minutes.0"),
        ({"reminder_offsets_minutes": [1, 2, 3, 4, 5, 6]}, "reminder_offsets_minutes"),
    ],
)
async def test_bad_preferences_are_refused(
    api: ApiClient, body: dict[str, Any], field: str
) -> None:
    ada = await api.user("ada")
    assert_problem(await api.request("PATCH", URL, json=body, headers=ada.headers), 422, field)


async def test_one_click_unsubscribe_stops_email_only(api: ApiClient, settings: Settings) -> None:
    ada = await api.user("ada")
    token = unsubscribe.token(settings.secret_key.get_secret_value(), uuid.UUID(ada.id))
    done = await api.request("POST", "/api/v1/notifications/unsubscribe", params={"token": token})
    assert done.status_code == 204, done.text
    now = await api.request("GET", URL, headers=ada.headers)
    assert now.json()["email"] == []
    assert now.json()["in_app"] == KINDS


@pytest.mark.parametrize(
    "token", ["garbage", unsubscribe.token("another secret, 32 characters long", uuid.uuid4())]
)
async def test_a_forged_unsubscribe_link_is_refused(api: ApiClient, token: str) -> None:
    response = await api.request(
        "POST", "/api/v1/notifications/unsubscribe", params={"token": token}
    )
    assert_problem(response, 404)
