"""The caller of a request: resolved from a Bearer header or the access-token cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from taskboard.auth.authenticate import authenticate_token
from taskboard.auth.errors import InvalidToken
from taskboard.auth.principal import Principal
from taskboard.core.errors import Unauthorized
from taskboard.routing.contract import authenticates
from taskboard.routing.deps import UoW, get_resources


def bearer_token(request: Request, cookie_name: str) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Authorization header must be 'Bearer <token>'")
        return token.strip()
    return request.cookies.get(cookie_name)


@authenticates  # the document lists its security schemes (routing.contract)
async def get_principal(request: Request, uow: UoW) -> Principal:
    resources = get_resources(request)
    token = bearer_token(request, resources.settings.access_cookie_name)
    if not token:
        raise Unauthorized("Send 'Authorization: Bearer <access token>' or the session cookie")
    return await authenticate_token(token, uow, resources)


CurrentUser = Annotated[Principal, Depends(get_principal)]
