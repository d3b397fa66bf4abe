from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from taskboard.core.db import UnitOfWork
from taskboard.core.errors import FieldProblem
from taskboard.users import repository
from taskboard.users.errors import EmailTaken
from taskboard.users.models import User, email_key
from taskboard.users.schemas import UserUpdate


async def create(
    uow: UnitOfWork,
    *,
    email: str,
    display_name: str,
    password_hash: str | None,
    time_zone: str = "UTC",
    site_role: str = "user",
    oidc_subject: str | None = None,
) -> User:
    if await repository.get_by_email(uow.session, email) is not None:
        raise _email_taken()
    user = User(
        id=uuid.uuid4(),
        email=email,
        email_key=email_key(email),
        display_name=display_name,
        password_hash=password_hash,
        time_zone=time_zone,
        site_role=site_role,
        oidc_subject=oidc_subject,
    )
    uow.session.add(user)
    try:
        async with uow.session.begin_nested():
            await uow.session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same address.
        raise _email_taken() from None
    return user


def _email_taken() -> EmailTaken:
    return EmailTaken(
        "An account with this email already exists",
        fields=[FieldProblem("email", "unique", "is already registered")],
    )


async def update(uow: UnitOfWork, user: User, changes: UserUpdate) -> User:
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(user, name, value)
    await uow.session.flush()
    return user
