from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from taskboard.auth.deps import CurrentUser
from taskboard.columns.schemas import ColumnKey
from taskboard.events.schemas import TaskEventPage
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.routing.preconditions import IfMatch, etag
from taskboard.routing.query import (
    Cursor,
    Limit,
    TextQuery,
    TimestampQuery,
    page_size,
    text_param,
    timestamp_param,
)
from taskboard.tasks import service
from taskboard.tasks.repository import TaskFilter
from taskboard.tasks.schemas import TaskCreate, TaskMove, TaskPage, TaskRead, TaskSort, TaskUpdate

router = authenticated_router(tags=["tasks"])


@router.post("/boards/{board_id}/tasks", status_code=status.HTTP_201_CREATED)
async def create_task(
    board_id: uuid.UUID,
    data: TaskCreate,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
) -> TaskRead:
    # Nothing else in this unit of work writes (an Idempotency-Key, claimed before, has begun
    # its transaction): the create may be a transaction of its own.
    task = await service.create(
        uow, principal, board_id, data, quota=settings.quota_tasks_per_board, alone=True
    )
    response.headers["ETag"] = etag(task.version)
    return task


@router.get("/boards/{board_id}/tasks")
async def list_tasks(
    board_id: uuid.UUID,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
    status_: Annotated[list[ColumnKey] | None, Query(alias="status", max_length=50)] = None,
    assignee: uuid.UUID | None = None,
    label: uuid.UUID | None = None,
    due_after: TimestampQuery = None,
    due_before: TimestampQuery = None,
    q: TextQuery = None,
    deleted: bool = False,
    sort: TaskSort = "position",
    cursor: Cursor = None,
    limit: Limit = None,
) -> TaskPage:
    filters = TaskFilter(
        status=status_ or (),
        assignee_id=assignee,
        label_id=label,
        due_after=timestamp_param("due_after", due_after),
        due_before=timestamp_param("due_before", due_before),
        q=text_param("q", q),
        deleted=deleted,
    )
    items, next_cursor = await service.list_for_board(
        uow,
        principal,
        board_id,
        filters=filters,
        sort=sort,
        cursor=cursor,
        limit=page_size(settings, limit),
    )
    return TaskPage(items=items, next_cursor=next_cursor)


@router.get("/tasks/{task_id}")
async def get_task(
    task_id: uuid.UUID, response: Response, uow: UoW, principal: CurrentUser
) -> TaskRead:
    task = await service.get(uow, principal, task_id)
    response.headers["ETag"] = etag(task.version)
    return task


@router.get("/tasks/{task_id}/events")
async def list_task_events(
    task_id: uuid.UUID,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**62,
            description="Only events with a lower seq: `next_before` of the previous page",
        ),
    ] = None,
    limit: Limit = None,
) -> TaskEventPage:
    """The task's activity, newest first: the board's `task.*` events about it (`data.task`)
    and `comment.*` events on it (`data.task_id`). Anyone who can see the board may read it;
    a trashed task's too."""
    return await service.list_events(
        uow, principal, task_id, before=before, limit=page_size(settings, limit)
    )


@router.patch("/tasks/{task_id}")
async def update_task(
    task_id: uuid.UUID,
    data: TaskUpdate,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    if_match: IfMatch,
) -> TaskRead:
    task = await service.update(uow, principal, task_id, data, if_match=if_match)
    response.headers["ETag"] = etag(task.version)
    return task


@router.post("/tasks/{task_id}/move")
async def move_task(
    task_id: uuid.UUID,
    data: TaskMove,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    if_match: IfMatch,
) -> TaskRead:
    task = await service.move(uow, principal, task_id, data, if_match=if_match)
    response.headers["ETag"] = etag(task.version)
    return task


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    await service.delete(uow, principal, task_id)


@router.post("/tasks/{task_id}/restore")
async def restore_task(task_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> TaskRead:
    return await service.restore(uow, principal, task_id)
