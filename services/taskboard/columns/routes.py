from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, status

from taskboard.columns import service
from taskboard.columns.schemas import (
    COLUMN_KEY_PATTERN,
    ColumnCreate,
    ColumnMove,
    ColumnRead,
    ColumnUpdate,
)
from taskboard.rest.deps import CurrentUser, UoW
from taskboard.rest.idempotency import authenticated_router

router = authenticated_router(tags=["columns"])
KeyPath = Annotated[str, Path(pattern=COLUMN_KEY_PATTERN)]


@router.get("/boards/{board_id}/columns")
async def list_columns(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> list[ColumnRead]:
    return await service.list_visible(uow, principal, board_id)


@router.post("/boards/{board_id}/columns", status_code=status.HTTP_201_CREATED)
async def create_column(
    board_id: uuid.UUID, data: ColumnCreate, uow: UoW, principal: CurrentUser
) -> ColumnRead:
    return await service.create(uow, principal, board_id, data)


@router.patch("/boards/{board_id}/columns/{key}")
async def update_column(
    board_id: uuid.UUID, key: KeyPath, data: ColumnUpdate, uow: UoW, principal: CurrentUser
) -> ColumnRead:
    return await service.update_column(uow, principal, board_id, key, data)


@router.post("/boards/{board_id}/columns/{key}/move")
async def move_column(
    board_id: uuid.UUID, key: KeyPath, data: ColumnMove, uow: UoW, principal: CurrentUser
) -> ColumnRead:
    return await service.move(uow, principal, board_id, key, data)


@router.delete("/boards/{board_id}/columns/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_column(
    board_id: uuid.UUID,
    key: KeyPath,
    uow: UoW,
    principal: CurrentUser,
    move_tasks_to: Annotated[str | None, Query(pattern=COLUMN_KEY_PATTERN)] = None,
) -> None:
    await service.delete_column(uow, principal, board_id, key, move_tasks_to=move_tasks_to)
