"""Registration, login, rotating refresh tokens (reuse of a rotated token revokes its family),
logout, logout everywhere and password change (which end sessions; see auth.sessions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select, update

from taskboard.auth import sessions
from taskboard.auth.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidToken,
    RefreshTokenReused,
)
from taskboard.auth.models import RefreshToken
from taskboard.auth.principal import Principal
from taskboard.auth.schemas import PasswordChange, TokenPair
from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import FieldProblem, ValidationFailed
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


async def refresh(uow: UnitOfWork, *, token: str, settings: Settings, redis: Redis) -> TokenPair:
    stmt = (
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)).with_for_update()
    )
    current = (await uow.session.execute(stmt)).scalar_one_or_none()
    now = utcnow()
    if current is None or current.revoked_at is not None or current.expires_at <= now:
        raise InvalidRefreshToken()
    if current.rotated_at is not None:
        # A rotated token came back: it was stolen or replayed. End the whole family.
        await _end_sessions(uow, current.user_id, [current.family_id], redis, settings)
        raise RefreshTokenReused()
    user = await users_repository.get(uow.session, current.user_id)
    if user is None:
        raise InvalidRefreshToken()
    current.rotated_at = now
    return await _issue(uow, user=user, family_id=current.family_id, settings=settings)


async def logout(uow: UnitOfWork, *, token: str, settings: Settings, redis: Redis) -> None:
    """End the session the refresh token belongs to: its refresh tokens, its access tokens and
    its sockets. Unknown tokens are ignored (logging out twice is not an error)."""
    stmt = select(RefreshToken.user_id, RefreshToken.family_id).where(
        RefreshToken.token_hash == hash_token(token)
    )
    row = (await uow.session.execute(stmt)).first()
    if row is not None:
        await _end_sessions(uow, row.user_id, [row.family_id], redis, settings)


async def logout_everywhere(
    uow: UnitOfWork, principal: Principal, *, settings: Settings, redis: Redis
) -> None:
    await _end_sessions(
        uow, principal.user_id, await _live_families(uow, principal), redis, settings
    )


async def change_password(
    uow: UnitOfWork,
    principal: Principal,
    data: PasswordChange,
    *,
    hashing: PasswordHashing,
    settings: Settings,
    redis: Redis,
) -> TokenPair:
    """Set a new password and end every session of the account, the caller's included; the
    caller gets a fresh session so the device that changed it stays signed in."""
    user = await users_repository.get(uow.session, principal.user_id)
    if user is None:
        raise InvalidToken("This account no longer exists")
    if user.password_hash is None:
        raise ValidationFailed(
            "This account signs in through its identity provider and has no password",
            fields=[FieldProblem("current_password", "exists", "the account has no password")],
        )
    if not await hashing.verify(user.password_hash, data.current_password):
        raise ValidationFailed(
            fields=[FieldProblem("current_password", "matches", "is not the current password")]
        )
    user.password_hash = await hashing.hash(data.new_password)
    await _end_sessions(uow, user.id, await _live_families(uow, principal), redis, settings)
    return await _issue(uow, user=user, family_id=uuid.uuid4(), settings=settings)


async def _live_families(uow: UnitOfWork, principal: Principal) -> list[uuid.UUID]:
    stmt = (
        select(RefreshToken.family_id)
        .where(
            RefreshToken.user_id == principal.user_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > utcnow(),
        )
        .distinct()
    )
    families = set((await uow.session.execute(stmt)).scalars())
    if principal.session_id is not None:
        families.add(principal.session_id)  # its refresh token may be spent; its access is not
    return sorted(families)


async def _end_sessions(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    family_ids: Sequence[uuid.UUID],
    redis: Redis,
    settings: Settings,
) -> None:
    if not family_ids:
        return
    await uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id.in_(family_ids), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )

    async def announce() -> None:
        await sessions.end(
            redis,
            user_id=user_id,
            session_ids=family_ids,
            ttl_seconds=settings.access_token_ttl_seconds,
        )

    uow.after_commit.append(announce)


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
        access_token=issue_access_token(
            settings, user_id=user.id, site_role=user.site_role, session_id=family_id
        ),
        refresh_token=token,
        expires_in=settings.access_token_ttl_seconds,
    )
