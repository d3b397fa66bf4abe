from __future__ import annotations

import uuid

from fastapi import Response, status

from taskboard.boards import service
from taskboard.boards.cache import SnapshotCache
from taskboard.boards.schemas import (
    BoardCreate,
    BoardCreated,
    BoardRead,
    BoardSnapshot,
    BoardUpdate,
    MemberPut,
    MemberRead,
)
from taskboard.rest.deps import CurrentUser, Res, UoW
from taskboard.rest.idempotency import authenticated_router

router = authenticated_router(tags=["boards"])


@router.post("/boards", status_code=status.HTTP_201_CREATED)
async def create_board(data: BoardCreate, uow: UoW, principal: CurrentUser) -> BoardCreated:
    return await service.create(uow, principal, data)


@router.get("/boards")
async def list_boards(uow: UoW, principal: CurrentUser) -> list[BoardRead]:
    return await service.list_mine(uow, principal)


@router.get("/boards/{board_id}", response_model=BoardSnapshot)
async def get_board(board_id: uuid.UUID, uow: UoW, principal: CurrentUser, res: Res) -> Response:
    cache = SnapshotCache(res.redis, res.settings.snapshot_cache_ttl_seconds)
    body = await service.snapshot(uow, principal, board_id, cache=cache)
    return Response(body, media_type="application/json")


@router.patch("/boards/{board_id}")
async def update_board(
    board_id: uuid.UUID, data: BoardUpdate, uow: UoW, principal: CurrentUser
) -> BoardRead:
    return await service.update(uow, principal, board_id, data)


@router.delete("/boards/{board_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_board(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete_board(uow, principal, board_id)


@router.get("/boards/{board_id}/members")
async def list_members(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> list[MemberRead]:
    return await service.list_members(uow, principal, board_id)


@router.put("/boards/{board_id}/members/{user_id}")
async def put_member(
    board_id: uuid.UUID, user_id: uuid.UUID, data: MemberPut, uow: UoW, principal: CurrentUser
) -> MemberRead:
    return await service.put_member(uow, principal, board_id, user_id, data.role)


@router.delete("/boards/{board_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    board_id: uuid.UUID, user_id: uuid.UUID, uow: UoW, principal: CurrentUser
) -> None:
    await service.remove_member(uow, principal, board_id, user_id)
