from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, status

from taskboard.auth.deps import CurrentUser
from taskboard.columns import service
from taskboard.columns.schemas import (
    COLUMN_KEY_PATTERN,
    ColumnCreate,
    ColumnMove,
    ColumnRead,
    ColumnUpdate,
)
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import SettingsDep, UoW

router = authenticated_router(tags=["columns"])
KeyPath = Annotated[str, Path(pattern=COLUMN_KEY_PATTERN)]


@router.get("/boards/{board_id}/columns")
async def list_columns(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> list[ColumnRead]:
    return await service.list_visible(uow, principal, board_id)


@router.post("/boards/{board_id}/columns", status_code=status.HTTP_201_CREATED)
async def create_column(
    board_id: uuid.UUID, data: ColumnCreate, uow: UoW, principal: CurrentUser, settings: SettingsDep
) -> ColumnRead:
    return await service.create(
        uow, principal, board_id, data, quota=settings.quota_columns_per_board
    )


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
