"""A board as a document: read in one consistent view (every statement sees the same `seq`),
everything named (keys, names, e-mails), ordered the way the board shows it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select, union

from taskboard.access import repository as access_repository
from taskboard.access.models import Board, Membership
from taskboard.access.service import require_role
from taskboard.attachments.models import Attachment
from taskboard.auth.principal import Principal
from taskboard.columns.models import BoardColumn
from taskboard.comments.models import Comment
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.labels.models import Label
from taskboard.tasks.models import Task, TaskAssignee, TaskLabel
from taskboard.transfer.document import (
    FORMAT,
    VERSION,
    BoardDocument,
    DocAttachment,
    DocBoard,
    DocColumn,
    DocComment,
    DocLabel,
    DocMember,
    DocTask,
)
from taskboard.users.models import User

ATTEMPTS = 5


@dataclass
class Export:
    document: BoardDocument
    # (task index, attachment index) -> the object's storage key, for the zip.
    keys: dict[tuple[int, int], str] = field(default_factory=dict)


async def export(uow: UnitOfWork, principal: Principal, board_id: uuid.UUID) -> Export:
    """Board admins (an archived board too: reading it is no write)."""
    await require_role(uow, board_id, principal, "admin", write=False)
    for _ in range(ATTEMPTS):
        before = await access_repository.current_seq(uow.session, board_id)
        result = await _read(uow, board_id)
        # Every write bumps seq: the same seq before and after means one state was read.
        if await access_repository.current_seq(uow.session, board_id) == before:
            return result
    return result  # a board written to without pause: the last read is still a whole board


async def _read(uow: UnitOfWork, board_id: uuid.UUID) -> Export:
    session = uow.session
    board = (await session.execute(select(Board).where(Board.id == board_id))).scalar_one()
    columns = (
        await session.execute(
            select(BoardColumn)
            .where(BoardColumn.board_id == board_id)
            .order_by(BoardColumn.position, BoardColumn.key)
        )
    ).scalars()
    labels = list(
        (
            await session.execute(
                select(Label.id, Label.name, Label.color)
                .where(Label.board_id == board_id)
                .order_by(func.lower(Label.name), Label.name)
            )
        ).all()
    )
    members = (
        await session.execute(
            select(User.email, User.display_name, Membership.role)
            .join(User, User.id == Membership.user_id)
            .where(Membership.board_id == board_id)
            .order_by(User.email_key)
        )
    ).all()
    column_order = select(BoardColumn.position).where(
        BoardColumn.board_id == board_id, BoardColumn.key == Task.status
    )
    tasks = list(
        (
            await session.execute(
                select(Task)
                .where(Task.board_id == board_id)
                .order_by(column_order.scalar_subquery(), Task.position, Task.id)
            )
        ).scalars()
    )
    people = await session.execute(
        select(User.id, User.email).where(
            User.id.in_(
                union(
                    select(Task.created_by).where(Task.board_id == board_id),
                    select(Comment.author_id).where(Comment.board_id == board_id),
                    select(Attachment.uploaded_by).where(Attachment.board_id == board_id),
                    select(TaskAssignee.user_id)
                    .join(Task, Task.id == TaskAssignee.task_id)
                    .where(Task.board_id == board_id),
                )
            )
        )
    )
    emails: dict[uuid.UUID, str] = {row[0]: row[1] for row in people}
    assignees: dict[uuid.UUID, list[str]] = defaultdict(list)
    for task_id, user_id in await session.execute(
        select(TaskAssignee.task_id, TaskAssignee.user_id)
        .join(Task, Task.id == TaskAssignee.task_id)
        .where(Task.board_id == board_id)
    ):
        assignees[task_id].append(emails[user_id])
    label_names = {label_id: name for label_id, name, _ in labels}
    task_labels: dict[uuid.UUID, list[str]] = defaultdict(list)
    for task_id, label_id in await session.execute(
        select(TaskLabel.task_id, TaskLabel.label_id)
        .join(Task, Task.id == TaskLabel.task_id)
        .where(Task.board_id == board_id)
    ):
        task_labels[task_id].append(label_names[label_id])
    comments: dict[uuid.UUID, list[Comment]] = defaultdict(list)
    for comment in (
        await session.execute(
            select(Comment)
            .where(Comment.board_id == board_id)
            .order_by(Comment.created_at, Comment.id)
        )
    ).scalars():
        comments[comment.task_id].append(comment)
    files: dict[uuid.UUID, list[Attachment]] = defaultdict(list)
    for attachment in (
        await session.execute(
            select(Attachment)
            .where(Attachment.board_id == board_id, Attachment.deleted_at.is_(None))
            .order_by(Attachment.created_at, Attachment.id)
        )
    ).scalars():
        files[attachment.task_id].append(attachment)

    def email(user_id: uuid.UUID | None) -> str | None:
        return emails.get(user_id) if user_id is not None else None

    keys: dict[tuple[int, int], str] = {}
    doc_tasks = []
    for t, task in enumerate(tasks):
        thread = comments.get(task.id, [])
        index = {c.id: i for i, c in enumerate(thread)}
        for a, attachment in enumerate(files.get(task.id, [])):
            keys[(t, a)] = attachment.storage_key
        doc_tasks.append(
            DocTask(
                title=task.title,
                description=task.description,
                column=task.status,
                priority=task.priority,
                start_at=task.start_at,
                due_at=task.due_at,
                assignees=sorted(assignees.get(task.id, []), key=str.casefold),
                labels=sorted(task_labels.get(task.id, []), key=str.casefold),
                created_by=email(task.created_by),
                created_at=task.created_at,
                updated_at=task.updated_at,
                deleted_at=task.deleted_at,
                comments=[
                    DocComment(
                        author=email(c.author_id),
                        body="" if c.deleted_at is not None else c.body,
                        parent=index.get(c.parent_id) if c.parent_id is not None else None,
                        created_at=c.created_at,
                        edited_at=c.edited_at,
                        deleted_at=c.deleted_at,
                    )
                    for c in thread
                ],
                attachments=[
                    DocAttachment(
                        filename=f.filename,
                        size=f.size,
                        sha256=f.sha256,
                        content_type=f.content_type,
                        uploaded_by=email(f.uploaded_by),
                        created_at=f.created_at,
                    )
                    for f in files.get(task.id, [])
                ],
            )
        )
    document = BoardDocument(
        format=FORMAT,
        version=VERSION,
        exported_at=utcnow(),
        board=DocBoard(name=board.name, description=board.description),
        columns=[DocColumn(key=c.key, name=c.name, wip_limit=c.wip_limit) for c in columns],
        labels=[DocLabel(name=name, color=color) for _, name, color in labels],
        members=[
            DocMember(email=address, role=role, display_name=name)
            for address, name, role in members
        ],
        tasks=doc_tasks,
    )
    return Export(document, keys)
