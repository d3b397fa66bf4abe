"""Role checks: an invisible board is a 404, a visible one with too low a role is a 403, and a
write to an archived board is a 409."""

from __future__ import annotations

import uuid

from taskboard.access import repository
from taskboard.access.errors import BoardArchived, BoardNotFound, RoleRequired
from taskboard.access.repository import Access
from taskboard.access.roles import Role, at_least
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import NotFound


def authorize(
    access: Access | None,
    minimum: Role,
    *,
    write: bool,
    hidden: type[NotFound] = BoardNotFound,
    archived_ok: bool = False,
) -> str:
    """The one gate of every request that touches a board, given what the caller's lookup
    found (`role_of`, or what the create path's `taskboard_create_task` read, both of which
    take the board lock when writing): their role, unless the board is hidden from them, too
    low, or archived while they write. Only unarchiving and deleting a board pass
    `archived_ok`. Returns the role."""
    if access is None:
        raise hidden()
    if not at_least(access.role, minimum):
        raise RoleRequired(f"This needs the {minimum} role on the board; you are {access.role}")
    if write and access.archived and not archived_ok:
        raise BoardArchived("The board is archived, so it is read-only; unarchive it first")
    return access.role


async def require_role(
    uow: UnitOfWork,
    board_id: uuid.UUID,
    principal: Principal,
    minimum: Role,
    *,
    hidden: type[NotFound] = BoardNotFound,
    write: bool | None = None,
    archived_ok: bool = False,
) -> str:
    """Check the caller's role. Writes (by default: minimum above viewer) also lock the board
    row, so every write to one board is serialized (WIP limits, positions and seq cannot
    race), and are refused while the board is archived. A read that needs a higher role (an
    admin's list of webhooks) passes write=False: no lock, and archived boards stay readable.

    `hidden` is what a caller who cannot see the board is told: a task on a board you cannot
    see does not exist for you (TaskNotFound), not "board not found", which would confirm it.
    """
    writing = minimum != "viewer" if write is None else write
    access = await repository.role_of(uow.session, board_id, principal.user_id, lock=writing)
    return authorize(access, minimum, write=writing, hidden=hidden, archived_ok=archived_ok)
