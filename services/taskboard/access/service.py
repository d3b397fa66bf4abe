"""Role checks: an invisible board is a 404, a visible one with too low a role is a 403."""

from __future__ import annotations

import uuid

from taskboard.access import repository
from taskboard.access.errors import BoardNotFound, RoleRequired
from taskboard.access.roles import Role, at_least
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import NotFound


async def require_role(
    uow: UnitOfWork,
    board_id: uuid.UUID,
    principal: Principal,
    minimum: Role,
    *,
    hidden: type[NotFound] = BoardNotFound,
) -> str:
    """Check the caller's role. Writes (minimum above viewer) also lock the board row, so every
    write to one board is serialized: WIP limits, positions and seq cannot race.

    `hidden` is what a caller who cannot see the board is told: a task on a board you cannot
    see does not exist for you (TaskNotFound), not "board not found", which would confirm it.
    """
    role = await repository.role_of(
        uow.session, board_id, principal.user_id, lock=minimum != "viewer"
    )
    if role is None:
        raise hidden()
    if not at_least(role, minimum):
        raise RoleRequired(f"This needs the {minimum} role on the board; you are {role}")
    return role
