"""The caller of a request: resolved from a Bearer header or the access-token cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from taskboard.auth.authenticate import authenticate_token
from taskboard.auth.errors import InvalidToken
from taskboard.auth.principal import Principal
from taskboard.core.errors import Unauthorized
from taskboard.routing.deps import UoW, get_resources


def bearer_token(request: Request, cookie_name: str) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Authorization header must be 'Bearer <token>'")
        return token.strip()
    return request.cookies.get(cookie_name)


# Declared for the OpenAPI document (and Swagger UI's "Authorize"); the token itself is read
# by bearer_token below, which answers malformed headers with a problem, not a bare 403.
_BEARER = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")
_COOKIE = APIKeyCookie(
    name="taskboard_access",
    auto_error=False,
    description="The session cookie login sets (its name is TASKBOARD_ACCESS_COOKIE_NAME)",
)


async def get_principal(
    request: Request,
    uow: UoW,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    _cookie: Annotated[str | None, Security(_COOKIE)],
) -> Principal:
    resources = get_resources(request)
    token = bearer_token(request, resources.settings.access_cookie_name)
    if not token:
        raise Unauthorized("Send 'Authorization: Bearer <access token>' or the session cookie")
    return await authenticate_token(token, uow, resources)


CurrentUser = Annotated[Principal, Depends(get_principal)]
