from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.users.models import User, email_key


async def get(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email_key == email_key(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_oidc_subject(session: AsyncSession, subject: str) -> User | None:
    stmt = select(User).where(User.oidc_subject == subject)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Hold the user's row until commit: their own concurrent writes that must not race (a
    quota count) queue behind it."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
