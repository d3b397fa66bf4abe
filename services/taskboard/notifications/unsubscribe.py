"""One-click unsubscribe links (RFC 8058): a token naming the user, signed with the secret
key, that never expires (an old e-mail's link must still work) and can do one thing only:
stop that user's e-mail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import quote

import jwt

from taskboard.core.security import decode_signed

AUDIENCE = "taskboard-unsubscribe"


def token(secret: str, user_id: uuid.UUID) -> str:
    return jwt.encode({"sub": str(user_id), "aud": AUDIENCE}, secret, algorithm="HS256")


def url(public_url: str, secret: str, user_id: uuid.UUID) -> str:
    signed = quote(token(secret, user_id), safe="")
    return f"{public_url}/api/v1/notifications/unsubscribe?token={signed}"


def verify(keys: Sequence[str], signed: str) -> uuid.UUID | None:
    try:
        claims = decode_signed(signed, keys, algorithms=["HS256"], audience=AUDIENCE)
        return uuid.UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, KeyError, ValueError):
        return None
