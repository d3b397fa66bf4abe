from __future__ import annotations

import uuid

from fastapi import status

from taskboard.auth.deps import CurrentUser
from taskboard.comments import service
from taskboard.comments.schemas import CommentCreate, CommentPage, CommentRead, CommentUpdate
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.query import Paging

router = authenticated_router(tags=["comments"])


@router.get("/tasks/{task_id}/comments")
async def list_comments(
    task_id: uuid.UUID, uow: UoW, principal: CurrentUser, page: Paging
) -> CommentPage:
    """Oldest first, so a thread reads in order; a page at a time."""
    items, next_cursor = await service.list_for_task(uow, principal, task_id, page)
    return CommentPage(items=items, next_cursor=next_cursor)


@router.post("/tasks/{task_id}/comments", status_code=status.HTTP_201_CREATED)
async def create_comment(
    task_id: uuid.UUID, data: CommentCreate, uow: UoW, principal: CurrentUser, settings: SettingsDep
) -> CommentRead:
    return await service.create(
        uow, principal, task_id, data, quota=settings.quota_comments_per_task
    )


@router.patch("/comments/{comment_id}")
async def update_comment(
    comment_id: uuid.UUID, data: CommentUpdate, uow: UoW, principal: CurrentUser
) -> CommentRead:
    return await service.update(uow, principal, comment_id, data)


@router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_comment(comment_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete(uow, principal, comment_id)
