from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, status

from taskboard.auth.deps import CurrentUser
from taskboard.boards import columns, service
from taskboard.boards.schemas import (
    BoardCreate,
    BoardCreated,
    BoardPage,
    BoardRead,
    BoardUpdate,
    MemberAdd,
    MemberPage,
    MemberPut,
    MemberRead,
)
from taskboard.columns.schemas import COLUMN_KEY_PATTERN
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.query import Paging

router = authenticated_router(tags=["boards"])
columns_router = authenticated_router(tags=["columns"])


@router.post("/boards", status_code=status.HTTP_201_CREATED)
async def create_board(
    data: BoardCreate, uow: UoW, principal: CurrentUser, settings: SettingsDep
) -> BoardCreated:
    return await service.create(uow, principal, data, quota=settings.quota_boards_per_user)


@router.get("/boards")
async def list_boards(
    uow: UoW,
    principal: CurrentUser,
    page: Paging,
    archived: Annotated[
        bool, Query(description="true: your archived boards instead of the others")
    ] = False,
) -> BoardPage:
    """Your boards, newest first, a page at a time (`next_cursor` is null on the last):
    those not archived, or with `archived=true` the archived ones."""
    items, next_cursor = await service.list_mine(uow, principal, page, archived=archived)
    return BoardPage(items=items, next_cursor=next_cursor)


@router.patch("/boards/{board_id}")
async def update_board(
    board_id: uuid.UUID, data: BoardUpdate, uow: UoW, principal: CurrentUser
) -> BoardRead:
    return await service.update(uow, principal, board_id, data)


@router.delete("/boards/{board_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_board(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete_board(uow, principal, board_id)


@router.get("/boards/{board_id}/members")
async def list_members(
    board_id: uuid.UUID, uow: UoW, principal: CurrentUser, page: Paging
) -> MemberPage:
    items, next_cursor = await service.list_members(uow, principal, board_id, page)
    return MemberPage(items=items, next_cursor=next_cursor)


@router.post("/boards/{board_id}/members", status_code=status.HTTP_201_CREATED)
async def add_member(
    board_id: uuid.UUID, data: MemberAdd, uow: UoW, principal: CurrentUser, settings: SettingsDep
) -> MemberRead:
    """Add the account with this e-mail address (matched as login matches it); someone already
    on the board is a 409 (PUT members/{user_id} changes roles)."""
    return await service.add_member(
        uow, principal, board_id, data.email, data.role, quota=settings.quota_members_per_board
    )


@router.put("/boards/{board_id}/members/{user_id}")
async def put_member(
    board_id: uuid.UUID,
    user_id: uuid.UUID,
    data: MemberPut,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
) -> MemberRead:
    return await service.put_member(
        uow, principal, board_id, user_id, data.role, quota=settings.quota_members_per_board
    )


@router.delete("/boards/{board_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    board_id: uuid.UUID, user_id: uuid.UUID, uow: UoW, principal: CurrentUser
) -> None:
    await service.remove_member(uow, principal, board_id, user_id)


# Lives here, not in columns: it carries tasks, and columns sit below tasks.
@columns_router.delete("/boards/{board_id}/columns/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_column(
    board_id: uuid.UUID,
    key: Annotated[str, Path(pattern=COLUMN_KEY_PATTERN)],
    uow: UoW,
    principal: CurrentUser,
    move_tasks_to: Annotated[str | None, Query(pattern=COLUMN_KEY_PATTERN)] = None,
) -> None:
    await columns.delete_column(uow, principal, board_id, key, move_tasks_to=move_tasks_to)
