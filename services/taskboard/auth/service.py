"""Registration, login and rotating refresh tokens (reuse of a rotated token revokes its family)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from taskboard.auth.errors import InvalidCredentials, InvalidRefreshToken, RefreshTokenReused
from taskboard.auth.models import RefreshToken
from taskboard.auth.schemas import TokenPair
from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.security import (
    PasswordHashing,
    hash_token,
    issue_access_token,
    new_refresh_token,
)
from taskboard.users import repository as users_repository
from taskboard.users import service as users_service
from taskboard.users.models import User
from taskboard.users.schemas import Registration


async def register(uow: UnitOfWork, *, data: Registration, hashing: PasswordHashing) -> User:
    return await users_service.create(
        uow,
        email=str(data.email),
        display_name=data.display_name,
        password_hash=await hashing.hash(data.password),
        time_zone=data.time_zone,
    )


async def login(
    uow: UnitOfWork, *, email: str, password: str, hashing: PasswordHashing, settings: Settings
) -> TokenPair:
    user = await users_repository.get_by_email(uow.session, email)
    if not await hashing.verify(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    return await _issue(uow, user=user, family_id=uuid.uuid4(), settings=settings)


async def refresh(uow: UnitOfWork, *, token: str, settings: Settings) -> TokenPair:
    stmt = (
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)).with_for_update()
    )
    current = (await uow.session.execute(stmt)).scalar_one_or_none()
    now = utcnow()
    if current is None or current.revoked_at is not None or current.expires_at <= now:
        raise InvalidRefreshToken()
    if current.rotated_at is not None:
        # A rotated token came back: it was stolen or replayed. End the whole family.
        await _revoke_family(uow, current.family_id)
        raise RefreshTokenReused()
    user = await users_repository.get(uow.session, current.user_id)
    if user is None:
        raise InvalidRefreshToken()
    current.rotated_at = now
    return await _issue(uow, user=user, family_id=current.family_id, settings=settings)


async def logout(uow: UnitOfWork, *, token: str) -> None:
    stmt = select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_token(token))
    family_id = (await uow.session.execute(stmt)).scalar_one_or_none()
    if family_id is not None:
        await _revoke_family(uow, family_id)


async def _revoke_family(uow: UnitOfWork, family_id: uuid.UUID) -> None:
    await uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def _issue(
    uow: UnitOfWork, *, user: User, family_id: uuid.UUID, settings: Settings
) -> TokenPair:
    token, digest = new_refresh_token()
    uow.session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=digest,
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    await uow.session.flush()
    return TokenPair(
        access_token=issue_access_token(settings, user_id=user.id, site_role=user.site_role),
        refresh_token=token,
        expires_in=settings.access_token_ttl_seconds,
    )
