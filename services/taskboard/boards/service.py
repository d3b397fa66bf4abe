from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import delete, func, select

from taskboard.access import repository as access_repository
from taskboard.access.errors import RoleRequired
from taskboard.access.models import Board, Membership
from taskboard.access.roles import at_least
from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.boards import repository
from taskboard.boards.errors import AlreadyMember, OwnerRequired
from taskboard.boards.schemas import (
    BoardCreate,
    BoardCreated,
    BoardRead,
    BoardUpdate,
    MemberRead,
)
from taskboard.columns import service as columns_service
from taskboard.columns.schemas import ColumnRead
from taskboard.core import quotas
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import FieldProblem, NotFound, ValidationFailed
from taskboard.core.paging import PageRequest
from taskboard.events import log as events
from taskboard.events.models import BoardEvent
from taskboard.tasks.models import Task, TaskAssignee
from taskboard.users import repository as users_repository
from taskboard.users.models import User

_TIME: TypeAdapter[datetime | None] = TypeAdapter(datetime | None)
DEFAULT_COLUMNS = (("todo", "To do"), ("in_progress", "In progress"), ("done", "Done"))


def _read(board: Board, role: str) -> dict[str, Any]:
    return {
        "id": board.id,
        "name": board.name,
        "description": board.description,
        "seq": board.last_seq,
        "role": role,
        "created_at": board.created_at,
        "updated_at": board.updated_at,
        "archived_at": board.archived_at,
    }


async def create(
    uow: UnitOfWork, principal: Principal, data: BoardCreate, *, quota: int
) -> BoardCreated:
    # The caller's user row serializes their board creations: the quota count is exact.
    await users_repository.lock(uow.session, principal.user_id)
    await quotas.enforce(
        uow.session,
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == principal.user_id, Membership.role == "owner"),
        limit=quota,
        what="boards owned",
    )
    now = utcnow()
    board = Board(
        id=uuid.uuid4(),
        name=data.name,
        description=data.description,
        created_by=principal.user_id,
        last_seq=0,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(board)
    uow.session.add(Membership(board_id=board.id, user_id=principal.user_id, role="owner"))
    await uow.session.flush()
    columns = await columns_service.create_defaults(uow, board.id, DEFAULT_COLUMNS)
    column_reads = [ColumnRead.model_validate(c) for c in columns]
    event = await events.append(
        uow,
        board_id=board.id,
        type="board.created",
        data={
            "name": board.name,
            "description": board.description,
            "columns": [c.model_dump(mode="json") for c in column_reads],
        },
        actor_id=principal.user_id,
    )
    board.last_seq = event.seq
    return BoardCreated(**_read(board, "owner"), columns=column_reads)


async def list_mine(
    uow: UnitOfWork, principal: Principal, page: PageRequest, *, archived: bool = False
) -> tuple[list[BoardRead], str | None]:
    rows, next_cursor = await repository.boards_of(
        uow.session, principal.user_id, page, archived=archived
    )
    return [BoardRead(**_read(board, role)) for board, role in rows], next_cursor


async def board_fresh(uow: UnitOfWork, board_id: uuid.UUID) -> Board:
    board = (
        await uow.session.execute(
            select(Board).where(Board.id == board_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if board is None:
        raise NotFound("Board not found")
    return board


async def update(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, changes: BoardUpdate
) -> BoardRead:
    """Rename, describe, archive or unarchive. An archived board takes only its unarchiving
    (with other changes, if any) or its archiving again (alone: nothing changes); anything
    else is refused by the archived gate like any other write."""
    fields = changes.model_dump(exclude_unset=True)
    archive: bool | None = fields.pop("archived", None)
    passes = archive is False or (archive is True and not fields)
    role = await require_role(uow, board_id, principal, "admin", archived_ok=passes)
    board = await board_fresh(uow, board_id)
    for name, value in fields.items():
        setattr(board, name, value)
    data: dict[str, Any] = dict(fields)
    if archive is not None and archive != (board.archived_at is not None):
        board.archived_at = utcnow() if archive else None
        # As BoardRead writes it, so open boards can take it as it is.
        data["archived_at"] = _TIME.dump_python(board.archived_at, mode="json")
    await uow.session.flush()
    if data:
        event = await events.append(
            uow, board_id=board_id, type="board.updated", data=data, actor_id=principal.user_id
        )
        board.last_seq = event.seq
    return BoardRead(**_read(board, role))


async def delete_board(uow: UnitOfWork, principal: Principal, board_id: uuid.UUID) -> None:
    # Deleting is the one write besides unarchiving that an archived board takes.
    await require_role(uow, board_id, principal, "owner", archived_ok=True)
    last_seq = await access_repository.current_seq(uow.session, board_id)
    assert last_seq is not None  # require_role found it
    await uow.session.execute(delete(Board).where(Board.id == board_id))
    # The log goes with the board, so this last event exists only in the stream: it tells
    # live subscribers the board is gone.
    uow.events.append(
        BoardEvent(
            board_id=board_id,
            seq=last_seq + 1,
            type="board.deleted",
            data={},
            actor_id=principal.user_id,
            created_at=utcnow(),
        )
    )


async def list_members(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, page: PageRequest
) -> tuple[list[MemberRead], str | None]:
    role = await require_role(uow, board_id, principal, "viewer")
    admin = at_least(role, "admin")
    rows, next_cursor = await repository.members_page(uow.session, board_id, page)
    # Admins see every address (they manage members); anyone sees their own.
    return [
        _member(m, user, email=admin or user.id == principal.user_id) for m, user in rows
    ], next_cursor


def _member(membership: Membership, user: User, *, email: bool) -> MemberRead:
    return MemberRead(
        user_id=user.id,
        display_name=user.display_name,
        email=user.email if email else None,
        role=membership.role,
        created_at=membership.created_at,
    )


async def list_members_unchecked(uow: UnitOfWork, board_id: uuid.UUID) -> list[MemberRead]:
    """Every member, without addresses: the snapshot's list, shared by every viewer."""
    return [
        _member(m, user, email=False) for m, user in await repository.members(uow.session, board_id)
    ]


async def put_member(
    uow: UnitOfWork,
    principal: Principal,
    board_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    *,
    quota: int,
) -> MemberRead:
    """Add a member or change a role. Only the owner hands over ownership (and becomes admin);
    admins manage everyone below owner."""
    caller_role = await require_role(uow, board_id, principal, "admin")
    user = await users_repository.get(uow.session, user_id)
    if user is None:
        raise NotFound("User not found")
    membership = await repository.membership(uow.session, board_id, user_id)
    return await _set_role(
        uow, principal, caller_role, board_id, user, membership, role, quota=quota
    )


async def add_member(
    uow: UnitOfWork,
    principal: Principal,
    board_id: uuid.UUID,
    email: str,
    role: str,
    *,
    quota: int,
) -> MemberRead:
    """Add the account with this address (matched as login matches it) as a new member; the
    same rules and event as put_member. Someone already on the board is a 409: changing a
    role is put_member's."""
    caller_role = await require_role(uow, board_id, principal, "admin")
    user = await users_repository.get_by_email(uow.session, email)
    if user is None:
        raise ValidationFailed(
            "No account has this e-mail address",
            fields=[FieldProblem("email", "account_exists", "no account has this address")],
        )
    if await repository.membership(uow.session, board_id, user.id) is not None:
        raise AlreadyMember(
            "They are already a member; change their role with PUT members/{user_id}",
            fields=[FieldProblem("email", "unique", "is already a member of this board")],
            extra={"user_id": str(user.id)},
        )
    return await _set_role(uow, principal, caller_role, board_id, user, None, role, quota=quota)


async def _set_role(
    uow: UnitOfWork,
    principal: Principal,
    caller_role: str,
    board_id: uuid.UUID,
    user: User,
    membership: Membership | None,
    role: str,
    *,
    quota: int,
) -> MemberRead:
    """Give `user` `role` on the board (a new membership when `membership` is None), after
    the caller's role was checked (and the board locked) by require_role."""
    if role == "owner" or (membership is not None and membership.role == "owner"):
        if caller_role != "owner":
            raise RoleRequired("Only the owner can transfer ownership")
        if role != "owner":
            raise OwnerRequired("Transfer ownership to another member instead")
    data: dict[str, Any] = {"user_id": str(user.id), "role": role}
    if role == "owner" and user.id != principal.user_id:
        me = await repository.membership(uow.session, board_id, principal.user_id)
        assert me is not None
        me.role = "admin"
        data["previous_owner_id"] = str(principal.user_id)
    if membership is None:
        await quotas.enforce(
            uow.session,
            select(func.count()).select_from(Membership).where(Membership.board_id == board_id),
            limit=quota,
            what="members on a board",
        )
        membership = Membership(board_id=board_id, user_id=user.id, role=role, created_at=utcnow())
        uow.session.add(membership)
        event_type = "member.added"
    else:
        membership.role = role
        event_type = "member.updated"
    await uow.session.flush()
    await events.append(
        uow, board_id=board_id, type=event_type, data=data, actor_id=principal.user_id
    )
    return MemberRead(
        user_id=user.id,
        display_name=user.display_name,
        email=user.email,
        role=role,
        created_at=membership.created_at,
    )


async def remove_member(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Admins remove members below owner; anyone but the owner may leave."""
    leaving = user_id == principal.user_id
    # Leaving is a write even for a viewer: the board lock, and refused while archived.
    await require_role(uow, board_id, principal, "viewer" if leaving else "admin", write=True)
    membership = await repository.membership(uow.session, board_id, user_id)
    if membership is None:
        raise NotFound("Not a member of this board")
    if membership.role == "owner":
        raise OwnerRequired("The owner cannot be removed; transfer ownership first")
    await uow.session.delete(membership)
    # Assignments only make sense for members.
    await uow.session.execute(
        delete(TaskAssignee).where(
            TaskAssignee.user_id == user_id,
            TaskAssignee.task_id.in_(select(Task.id).where(Task.board_id == board_id)),
        )
    )
    await uow.session.flush()
    await events.append(
        uow,
        board_id=board_id,
        type="member.removed",
        data={"user_id": str(user_id)},
        actor_id=principal.user_id,
    )
