from __future__ import annotations

import uuid

from fastapi import status

from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.labels import service
from taskboard.labels.schemas import LabelCreate, LabelPage, LabelRead, LabelUpdate
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.query import Paging

router = authenticated_router(tags=["labels"])


@router.get("/boards/{board_id}/labels")
async def list_labels(
    board_id: uuid.UUID, uow: UoW, principal: CurrentUser, page: Paging
) -> LabelPage:
    """By name, a page at a time."""
    items, next_cursor = await service.list_visible(uow, principal, board_id, page)
    return LabelPage(items=items, next_cursor=next_cursor)


@router.post("/boards/{board_id}/labels", status_code=status.HTTP_201_CREATED)
async def create_label(
    board_id: uuid.UUID, data: LabelCreate, uow: UoW, principal: CurrentUser, settings: SettingsDep
) -> LabelRead:
    return await service.create(
        uow, principal, board_id, data, quota=settings.quota_labels_per_board
    )


@router.patch("/labels/{label_id}")
async def update_label(
    label_id: uuid.UUID, data: LabelUpdate, uow: UoW, principal: CurrentUser
) -> LabelRead:
    return await service.update(uow, principal, label_id, data)


@router.delete("/labels/{label_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_label(label_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete(uow, principal, label_id)
