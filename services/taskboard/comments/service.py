from __future__ import annotations

import uuid

from sqlalchemy import func, select

from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.comments.errors import CommentNotFound, NotAuthor
from taskboard.comments.models import Comment
from taskboard.comments.schemas import CommentCreate, CommentRead, CommentUpdate
from taskboard.core import quotas
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.events import log as events
from taskboard.tasks import repository as tasks_repository
from taskboard.tasks.errors import TaskDeleted
from taskboard.tasks.service import board_of_task


def _read(comment: Comment) -> CommentRead:
    read = CommentRead.model_validate(comment)
    if comment.deleted_at is not None:
        read.body = ""  # the thread keeps its shape; the words are gone
    return read


async def list_for_task(
    uow: UnitOfWork, principal: Principal, task_id: uuid.UUID, page: PageRequest
) -> tuple[list[CommentRead], str | None]:
    await board_of_task(uow, principal, task_id, "viewer")
    return await keyset_page(
        uow.session,
        select(Comment).where(Comment.task_id == task_id),
        keys=[Comment.created_at, Comment.id],
        kinds=["time", "uuid"],
        page=page,
        item=lambda row: _read(row[0]),
    )


async def create(
    uow: UnitOfWork, principal: Principal, task_id: uuid.UUID, data: CommentCreate, *, quota: int
) -> CommentRead:
    board_id = await board_of_task(uow, principal, task_id, "member")
    await quotas.enforce(
        uow.session,
        select(func.count()).select_from(Comment).where(Comment.task_id == task_id),
        limit=quota,
        what="comments on a task",
    )
    if await tasks_repository.is_deleted(uow.session, task_id):
        raise TaskDeleted("The task is in the trash; restore it to comment on it")
    if data.parent_id is not None:
        parent = await uow.session.get(Comment, data.parent_id)
        if parent is None or parent.task_id != task_id:
            raise ValidationFailed(
                fields=[FieldProblem("parent_id", "same_task", "must be a comment on this task")]
            )
        if parent.deleted_at is not None:
            raise ValidationFailed(
                fields=[FieldProblem("parent_id", "live", "must not be a deleted comment")]
            )
    now = utcnow()
    comment = Comment(
        id=uuid.uuid4(),
        board_id=board_id,
        task_id=task_id,
        parent_id=data.parent_id,
        author_id=principal.user_id,
        body=data.body,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(comment)
    await tasks_repository.count_comment(uow.session, task_id, +1)
    return await events.record(
        uow,
        CommentRead,
        comment,
        board_id=board_id,
        type="comment.created",
        actor_id=principal.user_id,
    )


async def _own(uow: UnitOfWork, principal: Principal, comment_id: uuid.UUID) -> Comment:
    comment = await uow.session.get(Comment, comment_id)
    if comment is None or comment.deleted_at is not None:
        raise CommentNotFound()
    # Viewers may not write; an author demoted to viewer can no longer edit either.
    await require_role(uow, comment.board_id, principal, "member", hidden=CommentNotFound)
    if comment.author_id != principal.user_id:
        raise NotAuthor()
    return comment


async def update(
    uow: UnitOfWork, principal: Principal, comment_id: uuid.UUID, data: CommentUpdate
) -> CommentRead:
    comment = await _own(uow, principal, comment_id)
    comment.body = data.body
    comment.edited_at = utcnow()
    # A live comment (see _own): its read model shows the body.
    return await events.record(
        uow,
        CommentRead,
        comment,
        board_id=comment.board_id,
        type="comment.updated",
        actor_id=principal.user_id,
    )


async def delete(uow: UnitOfWork, principal: Principal, comment_id: uuid.UUID) -> None:
    comment = await _own(uow, principal, comment_id)
    comment.deleted_at = utcnow()
    await uow.session.flush()
    await tasks_repository.count_comment(uow.session, comment.task_id, -1)
    # The words go from the log too: replay and the events endpoint must not keep them.
    await events.redact(
        uow,
        board_id=comment.board_id,
        types=("comment.created", "comment.updated"),
        id=comment.id,
        field="body",
    )
    await events.append(
        uow,
        board_id=comment.board_id,
        type="comment.deleted",
        data={"id": str(comment.id), "task_id": str(comment.task_id)},
        actor_id=principal.user_id,
    )
