from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from taskboard.auth import service
from taskboard.auth.schemas import Credentials, RefreshRequest, TokenPair
from taskboard.core import ratelimit
from taskboard.core.config import Settings
from taskboard.rest.deps import RedisDep, Res, SettingsDep, UoW, client_ip
from taskboard.users.schemas import Registration, UserRead

router = APIRouter(prefix="/auth", tags=["auth"])


async def _limit_ip(redis: RedisDep, settings: Settings, request: Request, action: str) -> None:
    await ratelimit.hit(
        redis,
        f"{action}:ip:{client_ip(request)}",
        limit=settings.rate_limit_auth_per_ip,
        window_seconds=settings.rate_limit_window_seconds,
    )


def _set_cookie(response: Response, settings: Settings, tokens: TokenPair) -> None:
    response.set_cookie(
        settings.access_cookie_name,
        tokens.access_token,
        max_age=tokens.expires_in,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


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
    await ratelimit.hit(
        redis,
        f"login:account:{data.email.lower()}",
        limit=settings.rate_limit_auth_per_account,
        window_seconds=settings.rate_limit_window_seconds,
    )
    tokens = await service.login(
        uow, email=data.email, password=data.password, hashing=res.hashing, settings=settings
    )
    _set_cookie(response, settings, tokens)
    return tokens


@router.post("/refresh")
async def refresh(
    data: RefreshRequest, response: Response, uow: UoW, settings: SettingsDep
) -> TokenPair:
    tokens = await service.refresh(uow, token=data.refresh_token, settings=settings)
    _set_cookie(response, settings, tokens)
    return tokens


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: RefreshRequest, response: Response, uow: UoW, settings: SettingsDep) -> None:
    await service.logout(uow, token=data.refresh_token)
    response.delete_cookie(settings.access_cookie_name, path="/")
