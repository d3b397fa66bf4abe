"""Password hashing, access tokens and refresh-token material."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from taskboard.core.config import Settings

ACCESS_TOKEN_AUDIENCE = "taskboard"  # noqa: S105 - a claim value, not a secret
ACCESS_TOKEN_ALGORITHM = "HS256"  # noqa: S105


class PasswordHashing:
    """Argon2 hashing off the event loop: a hash takes tens of milliseconds of CPU, and on the
    loop a burst of logins stalled every request and socket of the process. At most
    `password_hash_concurrency` run at once (argon2 releases the GIL); the rest wait their
    turn without blocking anything else."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
        )
        self._slots = asyncio.Semaphore(settings.password_hash_concurrency)
        # Verifying against this keeps unknown-email logins as slow as wrong-password ones.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    site_role: str
    expires_at: datetime
    session_id: uuid.UUID | None = None


def issue_access_token(
    settings: Settings, *, user_id: uuid.UUID, site_role: str, session_id: uuid.UUID
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "role": site_role,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_seconds),
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), ACCESS_TOKEN_ALGORITHM)


def decode_signed(token: str, keys: Sequence[str], **options: Any) -> dict[str, Any]:
    """jwt.decode with the first of `keys` that made the signature (after a key rotation,
    TASKBOARD_SECRET_KEY_PREVIOUS still verifies what it signed); raises as jwt.decode does."""
    *older, last = keys
    for key in older:
        try:
            return jwt.decode(token, key, **options)
        except jwt.InvalidSignatureError:
            continue
    return jwt.decode(token, last, **options)


def decode_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The claims of one of our valid access tokens; None for anything else."""
    try:
        claims = _verified(token, tuple(settings.verification_keys))
    except (jwt.PyJWTError, ValueError, KeyError):
        return None
    if claims.expires_at <= utcnow():
        return None  # expired since it was verified: jwt.decode refuses from `exp` on too
    return claims


@functools.lru_cache(maxsize=4096)
def _verified(token: str, keys: tuple[str, ...]) -> AccessClaims:
    """A client sends the same access token with every request for its lifetime, and PyJWT
    spends about 60 us checking it (signature, claims, and the base64 alphabet one character
    at a time in Python): a token verified once is remembered by its exact text, per set of
    keys. Only successes are kept (a failure raises), and the caller checks the expiry again
    on every use, so a remembered token is accepted exactly when jwt.decode would accept it.
    Whether its session has ended is not remembered: that is checked on every request."""
    claims = decode_signed(
        token,
        keys,
        algorithms=[ACCESS_TOKEN_ALGORITHM],
        audience=ACCESS_TOKEN_AUDIENCE,
        options={"require": ["exp", "sub", "aud", "sid"]},
    )
    return AccessClaims(
        user_id=uuid.UUID(claims["sub"]),
        site_role=str(claims.get("role", "user")),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        session_id=uuid.UUID(str(claims["sid"])),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_refresh_token() -> tuple[str, str]:
    """A random token for the client and the digest we store; the token itself is never kept."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
