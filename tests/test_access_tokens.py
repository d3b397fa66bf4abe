"""Access tokens are verified once and remembered by their text (core.security): a remembered
token is still refused from its `exp` on, a token that failed is checked again (not remembered),
and one signed with a key that has been dropped is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from taskboard.core import security
from taskboard.core.config import Settings
from taskboard.core.security import ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_AUDIENCE

KEY = "k" * 40
OTHER_KEY = "o" * 40


def _settings(secret_key: str, previous: str | None = None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url="postgresql://u@localhost/db",
        redis_url="redis://localhost:6379/0",
        secret_key=secret_key,
        secret_key_previous=previous,
    )


def _token(key: str, expires_at: datetime) -> str:
    claims = {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "aud": ACCESS_TOKEN_AUDIENCE,
        "role": "user",
        "exp": expires_at,
    }
    return jwt.encode(claims, key, ACCESS_TOKEN_ALGORITHM)


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(KEY)
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    token = _token(KEY, expires_at)
    first = security.decode_access_token(settings, token)
    assert first is not None
    assert first.expires_at == expires_at
    assert security.decode_access_token(settings, token) == first
    monkeypatch.setattr(security, "utcnow", lambda: expires_at)
    assert security.decode_access_token(settings, token) is None


def test_a_refused_token_is_not_remembered() -> None:
    token = _token(OTHER_KEY, datetime.now(UTC) + timedelta(minutes=5))
    assert security.decode_access_token(_settings(KEY), token) is None
    # Once its key is trusted (a rotation keeping the previous key) it is accepted...
    assert security.decode_access_token(_settings(KEY, previous=OTHER_KEY), token) is not None
    # ...and once that key is dropped again, refused: remembered per set of keys.
    assert security.decode_access_token(_settings(KEY), token) is None


def test_a_tampered_token_is_refused_even_when_the_original_is_remembered() -> None:
    settings = _settings(KEY)
    token = _token(KEY, datetime.now(UTC) + timedelta(minutes=5))
    assert security.decode_access_token(settings, token) is not None
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert security.decode_access_token(settings, forged) is None
