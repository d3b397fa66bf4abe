"""The caller of a request: resolved from a Bearer header or the access-token cookie."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from taskboard.auth.authenticate import authenticate_token
from taskboard.auth.errors import CsrfTokenInvalid, InvalidToken
from taskboard.auth.principal import Principal
from taskboard.core.errors import Unauthorized
from taskboard.routing.contract import authenticates
from taskboard.routing.deps import UoW, get_resources

# CSRF defence for the session cookie (double submit): login sets a second, script-readable
# cookie with a random token (routes.set_csrf_cookie); a state-changing request authenticated by
# the cookie must echo it in X-CSRF-Token. Another site can make the browser send the cookies
# but cannot read them to set the header. Bearer-token requests are not exposed and not checked.
CSRF_COOKIE = "taskboard_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_csrf(request: Request) -> None:
    """For a request the session cookie authenticated."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfTokenInvalid(
            f"Send the value of the {CSRF_COOKIE} cookie in the X-CSRF-Token header, "
            "or authenticate with 'Authorization: Bearer <access token>'"
        )


def bearer_token(request: Request, cookie_name: str) -> str | None:
    """The Authorization header's token, else the session cookie's."""
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
    principal = await authenticate_token(token, uow, resources)
    # Who is asking first (a bad cookie is a 401), then whether the page itself asked.
    if "authorization" not in request.headers:
        check_csrf(request)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]
