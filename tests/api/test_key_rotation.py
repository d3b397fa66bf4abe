"""Rotating TASKBOARD_SECRET_KEY without signing everyone out: with the old key as
TASKBOARD_SECRET_KEY_PREVIOUS, what it signed (access tokens, unsubscribe links) still works
while everything new is signed with the new key; once the previous key is dropped, it does not."""

from __future__ import annotations

import uuid

import jwt
import pytest

from taskboard.core.config import ConfigurationError, Settings, load_settings
from taskboard.core.runtime import Resources
from taskboard.core.security import ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_AUDIENCE
from taskboard.notifications import unsubscribe
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient

API = "/api/v1"
NEW_KEY = "the-rotated-in-secret-key-0123456789-abcdef"


def _rotated(settings: Settings, service_urls: ServiceUrls, *, keep_previous: bool) -> Settings:
    previous = settings.secret_key.get_secret_value() if keep_previous else None
    return make_settings(
        service_urls,
        secret_key=NEW_KEY,
        secret_key_previous=previous,
        storage_url=settings.storage_url,
    )


async def test_sessions_survive_a_rotation_while_the_previous_key_is_kept(
    api: ApiClient, resources: Resources, settings: Settings, service_urls: ServiceUrls
) -> None:
    ada = await api.user("ada")  # signed with the key before the rotation
    link = unsubscribe.token(settings.secret_key.get_secret_value(), uuid.UUID(ada.id))

    resources.settings = _rotated(settings, service_urls, keep_previous=True)
    assert (await api.request("GET", f"{API}/me", headers=ada.headers)).status_code == 200
    # New tokens carry the new key's signature, not the old one's.
    grace = await api.login(ada)
    fresh = grace.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(
        fresh, NEW_KEY, algorithms=[ACCESS_TOKEN_ALGORITHM], audience=ACCESS_TOKEN_AUDIENCE
    )
    assert claims["sub"] == ada.id
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            fresh,
            settings.secret_key.get_secret_value(),
            algorithms=[ACCESS_TOKEN_ALGORITHM],
            audience=ACCESS_TOKEN_AUDIENCE,
        )

    # Once the previous key is dropped, what only it signed is refused; the new still works.
    resources.settings = _rotated(settings, service_urls, keep_previous=False)
    assert (await api.request("GET", f"{API}/me", headers=ada.headers)).status_code == 401
    assert (await api.request("GET", f"{API}/me", headers=grace.headers)).status_code == 200
    refused = await api.request("POST", f"{API}/notifications/unsubscribe", params={"token": link})
    assert refused.status_code == 404

    resources.settings = _rotated(settings, service_urls, keep_previous=True)
    done = await api.request("POST", f"{API}/notifications/unsubscribe", params={"token": link})
    assert done.status_code == 204, done.text


def test_a_short_previous_key_is_refused(
    service_urls: ServiceUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKBOARD_SECRET_KEY_PREVIOUS", "short")
    with pytest.raises(ConfigurationError, match="TASKBOARD_SECRET_KEY_PREVIOUS"):
        load_settings(
            _env_file=None,
            database_url=service_urls.database_url,
            redis_url=service_urls.redis_url,
            secret_key=NEW_KEY,
        )
