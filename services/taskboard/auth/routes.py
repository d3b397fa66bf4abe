from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, status

from taskboard.auth import service
from taskboard.auth.deps import CSRF_COOKIE, CurrentUser, check_csrf
from taskboard.auth.errors import InvalidCredentials, InvalidRefreshToken, InvalidToken
from taskboard.auth.schemas import Credentials, PasswordChange, RefreshRequest, TokenPair
from taskboard.core import ratelimit
from taskboard.core.config import Settings
from taskboard.routing.contract import AUTHENTICATED, PUBLIC
from taskboard.routing.deps import RedisDep, Res, SettingsDep, UoW, client_ip
from taskboard.users import repository as users_repository
from taskboard.users import service as users_service
from taskboard.users.models import User
from taskboard.users.schemas import Registration, UserRead, UserUpdate

router = APIRouter(
    prefix="/auth",
    tags=["auth"],
    # The rest (401, 409, 429...) is read from the code: routing.raises.
    responses=PUBLIC,
)
# The signed-in account itself; password and sessions join it here.
me_router = APIRouter(tags=["users"], responses=AUTHENTICATED)


async def _limit_ip(redis: RedisDep, settings: Settings, request: Request, action: str) -> None:
    await ratelimit.hit(
        redis,
        f"{action}:ip:{client_ip(request)}",
        limit=settings.rate_limit_auth_per_ip,
        window_seconds=settings.rate_limit_window_seconds,
    )


REFRESH_COOKIE = "taskboard_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def set_csrf_cookie(response: Response, *, max_age: int, secure: bool) -> None:
    """The token a cookie-authenticated write must echo (deps.check_csrf)."""
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(32),
        max_age=max_age,
        httponly=False,  # the page's script reads it to echo it
        secure=secure,
        samesite="strict",
        path="/",
    )


def _set_cookie(response: Response, settings: Settings, tokens: TokenPair) -> None:
    """The session in cookies, for a browser: the access token (every path), the refresh token
    (HttpOnly, sent only to /auth, so only a refresh or a logout ever carries it) and the CSRF
    token a cookie-authenticated write must echo. The last two live as long as the session."""
    response.set_cookie(
        settings.access_cookie_name,
        tokens.access_token,
        max_age=tokens.expires_in,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=settings.refresh_token_ttl_seconds,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path=REFRESH_COOKIE_PATH,
    )
    set_csrf_cookie(
        response, max_age=settings.refresh_token_ttl_seconds, secure=settings.cookie_secure
    )


def _clear_cookies(response: Response, settings: Settings) -> None:
    response.delete_cookie(settings.access_cookie_name, path="/")
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
    response.delete_cookie(CSRF_COOKIE, path="/")


def _refresh_token(request: Request, data: RefreshRequest | None) -> str:
    """From the body (API clients) or the refresh cookie (a browser: then CSRF-checked)."""
    if data is not None:
        return str(data.refresh_token)
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise InvalidRefreshToken(
            "Send {'refresh_token': ...} in the body, or the refresh cookie login set"
        )
    check_csrf(request)
    return cookie


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    data: Registration, request: Request, uow: UoW, res: Res, redis: RedisDep
) -> UserRead:
    await _limit_ip(redis, res.settings, request, "register")
    user = await service.register(uow, data=data, hashing=res.hashing)
    return UserRead.model_validate(user)


@router.post("/login")
async def login(
    data: Credentials, request: Request, response: Response, uow: UoW, res: Res, redis: RedisDep
) -> TokenPair:
    settings = res.settings
    await _limit_ip(redis, settings, request, "login")
    # Failed attempts count per account *and* client: guessing from one place is stopped,
    # and nobody can lock an owner out of their account by failing on purpose elsewhere.
    failures = f"login:failed:{data.email.casefold()}:{client_ip(request)}"
    await ratelimit.check(redis, failures, limit=settings.rate_limit_auth_per_account)
    try:
        tokens = await service.login(
            uow, email=data.email, password=data.password, hashing=res.hashing, settings=settings
        )
    except InvalidCredentials:
        await ratelimit.count(redis, failures, window_seconds=settings.rate_limit_window_seconds)
        raise
    _set_cookie(response, settings, tokens)
    return tokens


@router.post("/refresh")
async def refresh(
    request: Request,
    response: Response,
    uow: UoW,
    settings: SettingsDep,
    redis: RedisDep,
    data: Annotated[RefreshRequest | None, Body()] = None,
) -> TokenPair:
    """A new token pair for a refresh token (which is then spent). A browser sends no body:
    its refresh cookie is used, with the CSRF header."""
    token = _refresh_token(request, data)
    tokens = await service.refresh(uow, token=token, settings=settings, redis=redis)
    _set_cookie(response, settings, tokens)
    return tokens


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request,
    response: Response,
    uow: UoW,
    settings: SettingsDep,
    redis: RedisDep,
    data: Annotated[RefreshRequest | None, Body()] = None,
) -> None:
    """End this session: its refresh and access tokens stop working and its sockets close. A
    browser sends no body: its refresh cookie names the session."""
    token = _refresh_token(request, data)
    await service.logout(uow, token=token, settings=settings, redis=redis)
    _clear_cookies(response, settings)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(
    response: Response, uow: UoW, principal: CurrentUser, settings: SettingsDep, redis: RedisDep
) -> None:
    """End every session of the account, on every device, this one included."""
    await service.logout_everywhere(uow, principal, settings=settings, redis=redis)
    _clear_cookies(response, settings)


async def _account(uow: UoW, principal: CurrentUser) -> User:
    user = await users_repository.get(uow.session, principal.user_id)
    if user is None:
        raise InvalidToken("The account this token was issued to no longer exists")
    return user


@me_router.get("/me")
async def me(uow: UoW, principal: CurrentUser) -> UserRead:
    return UserRead.model_validate(await _account(uow, principal))


@me_router.post("/me/password")
async def change_password(
    data: PasswordChange,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    res: Res,
    redis: RedisDep,
) -> TokenPair:
    """Every other session ends; the answer is a new session for the device that asked."""
    settings = res.settings
    tokens = await service.change_password(
        uow, principal, data, hashing=res.hashing, settings=settings, redis=redis
    )
    _set_cookie(response, settings, tokens)
    response.headers["Cache-Control"] = "no-store"
    return tokens


@me_router.patch("/me")
async def update_me(data: UserUpdate, uow: UoW, principal: CurrentUser) -> UserRead:
    user = await _account(uow, principal)
    return UserRead.model_validate(await users_service.update(uow, user, data))
