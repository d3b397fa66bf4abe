from __future__ import annotations

import uuid

from fastapi import status

from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.labels import service
from taskboard.labels.schemas import LabelCreate, LabelRead, LabelUpdate
from taskboard.routing.deps import UoW

router = authenticated_router(tags=["labels"])


@router.get("/boards/{board_id}/labels")
async def list_labels(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> list[LabelRead]:
    return await service.list_visible(uow, principal, board_id)


@router.post("/boards/{board_id}/labels", status_code=status.HTTP_201_CREATED)
async def create_label(
    board_id: uuid.UUID, data: LabelCreate, uow: UoW, principal: CurrentUser
) -> LabelRead:
    return await service.create(uow, principal, board_id, data)


@router.patch("/labels/{label_id}")
async def update_label(
    label_id: uuid.UUID, data: LabelUpdate, uow: UoW, principal: CurrentUser
) -> LabelRead:
    return await service.update(uow, principal, label_id, data)


@router.delete("/labels/{label_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_label(label_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete(uow, principal, label_id)
