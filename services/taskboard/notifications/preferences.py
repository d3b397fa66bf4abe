"""What each user wants to hear about and how: kinds in the app, kinds by e-mail, reminder
offsets. No row means the defaults (everything, 24 h and 1 h before a due date)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import get_args

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.notifications.models import NotificationPreference
from taskboard.notifications.schemas import Kind, Preferences, PreferencesUpdate

ALL_KINDS: list[str] = list(get_args(Kind))
DEFAULT_OFFSETS_MINUTES = [24 * 60, 60]


def defaults() -> Preferences:
    return Preferences(
        in_app=list(ALL_KINDS),
        email=list(ALL_KINDS),
        reminder_offsets_minutes=list(DEFAULT_OFFSETS_MINUTES),
    )


def _read(row: NotificationPreference | None) -> Preferences:
    if row is None:
        return defaults()
    return Preferences(
        in_app=list(row.in_app),
        email=list(row.email),
        reminder_offsets_minutes=list(row.reminder_offsets),
    )


async def load(session: AsyncSession, users: Iterable[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
    wanted = set(users)
    rows = (
        await session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id.in_(wanted))
        )
    ).all()
    found = {row.user_id: _read(row) for row in rows}
    return {user: found.get(user) or defaults() for user in wanted}


async def get(uow: UnitOfWork, principal: Principal) -> Preferences:
    return _read(await uow.session.get(NotificationPreference, principal.user_id))


async def update(uow: UnitOfWork, principal: Principal, changes: PreferencesUpdate) -> Preferences:
    merged = (await get(uow, principal)).model_copy(update=changes.model_dump(exclude_unset=True))
    await save(uow.session, principal.user_id, merged)
    return merged


async def save(session: AsyncSession, user_id: uuid.UUID, preferences: Preferences) -> None:
    values = {
        "in_app": list(preferences.in_app),
        "email": list(preferences.email),
        "reminder_offsets": sorted(set(preferences.reminder_offsets_minutes), reverse=True),
    }
    await session.execute(
        insert(NotificationPreference)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=["user_id"], set_=values)
    )


async def stop_email(session: AsyncSession, user_id: uuid.UUID) -> None:
    """One-click unsubscribe: no more e-mail of any kind; the app keeps telling."""
    current = (await load(session, [user_id]))[user_id]
    await save(session, user_id, current.model_copy(update={"email": []}))
