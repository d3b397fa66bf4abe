"""A new board from a document, in the caller's transaction: rows written in batches of
multi-row INSERTs (one statement per table per batch, never one ORM object per row), and one
`board.imported` event. The caller commits or rolls back the whole board."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from fractional_indexing import generate_n_keys_between
from sqlalchemy import Table, func, insert, select

from taskboard.access.models import Board, Membership
from taskboard.access.roles import RANK
from taskboard.columns.models import BoardColumn
from taskboard.columns.schemas import ColumnRead
from taskboard.comments.models import Comment
from taskboard.core import quotas
from taskboard.core.config import Settings
from taskboard.core.db import UnitOfWork, utcnow
from taskboard.events import log as events
from taskboard.labels.models import Label
from taskboard.tasks.models import Task, TaskAssignee, TaskLabel
from taskboard.transfer.document import BoardDocument, DocTask
from taskboard.transfer.schemas import ImportResult, MemberAdded, Unmatched
from taskboard.users import repository as users_repository
from taskboard.users.models import User, email_key

# Tasks per batch: their rows, links and comments go in a handful of statements.
BATCH = 500

Progress = Callable[[int], Awaitable[None]]


def work_of(document: BoardDocument) -> int:
    """What progress counts: tasks and comments."""
    return len(document.tasks) + sum(len(t.comments) for t in document.tasks)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def _insert(uow: UnitOfWork, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Multi-row INSERTs (SQLAlchemy's insertmanyvalues pages them)."""
    if rows:
        await uow.session.execute(insert(_table(model)), list(rows))


async def build(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    document: BoardDocument,
    source: str,
    job_id: uuid.UUID,
    settings: Settings,
    result: ImportResult,
    progress: Progress,
) -> tuple[uuid.UUID, ImportResult]:
    """Build the board; returns its id and what was made (added to `result`, which holds what
    the conversion reported)."""
    session = uow.session
    # As POST /boards: the importer's row serializes their board creations, so the quota of
    # boards owned is exact.
    await users_repository.lock(session, user_id)
    await quotas.enforce(
        session,
        select(func.count())
        .select_from(Membership)
        .where(Membership.user_id == user_id, Membership.role == "owner"),
        limit=settings.quota_boards_per_user,
        what="boards owned",
    )
    now = utcnow()
    board_id = uuid.uuid4()
    await _insert(
        uow,
        Board,
        [
            {
                "id": board_id,
                "name": document.board.name,
                "description": document.board.description,
                "created_by": user_id,
                "last_seq": 0,
                "task_count": len(document.tasks),
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    people = await _members(uow, user_id, document, result)
    await _insert(
        uow,
        Membership,
        [
            {"board_id": board_id, "user_id": uid, "role": role, "created_at": now}
            for uid, role in people.roles.items()
        ],
    )
    column_positions = generate_n_keys_between(None, None, len(document.columns))
    columns = [
        {
            "id": uuid.uuid4(),
            "board_id": board_id,
            "key": column.key,
            "name": column.name,
            "position": str(position),
            "wip_limit": column.wip_limit,
            "created_at": now,
            "updated_at": now,
        }
        for column, position in zip(document.columns, column_positions, strict=True)
    ]
    await _insert(uow, BoardColumn, columns)
    labels = {
        label.name.casefold(): {
            "id": uuid.uuid4(),
            "board_id": board_id,
            "name": label.name,
            "color": label.color,
            "created_at": now,
            "updated_at": now,
        }
        for label in document.labels
    }
    await _insert(uow, Label, list(labels.values()))
    label_ids = {folded: row["id"] for folded, row in labels.items()}

    # Positions: each column's tasks in document order.
    per_column: dict[str, int] = {}
    for task in document.tasks:
        per_column[task.column] = per_column.get(task.column, 0) + 1
    keys = {
        column: iter(generate_n_keys_between(None, None, count))
        for column, count in per_column.items()
    }
    done = 0
    for start in range(0, len(document.tasks), BATCH):
        batch = document.tasks[start : start + BATCH]
        rows = _Rows()
        for task in batch:
            rows.add(task, board_id, str(next(keys[task.column])), now, people, label_ids)
        await _insert(uow, Task, rows.tasks)
        await _insert(uow, TaskAssignee, rows.assignees)
        await _insert(uow, TaskLabel, rows.labels)
        await _insert(uow, Comment, rows.comments)
        result.tasks += len(batch)
        result.trashed += sum(1 for t in batch if t.deleted_at is not None)
        result.comments += len(rows.comments)
        result.attachments_skipped += sum(len(t.attachments) for t in batch)
        done += len(batch) + len(rows.comments)
        await progress(done)
    result.columns = len(columns)
    result.labels = len(labels)
    result.unmatched_members += [
        Unmatched(name=address, reason="named by tasks or comments but not a member")
        for address in sorted(people.strangers)
    ]
    await events.append(
        uow,
        board_id=board_id,
        type="board.imported",
        data={
            "name": document.board.name,
            "description": document.board.description,
            "columns": [
                ColumnRead.model_validate(c).model_dump(mode="json")
                for c in sorted(columns, key=lambda c: c["position"])
            ],
            "source": source,
            "import_id": str(job_id),
            "tasks": result.tasks,
            "comments": result.comments,
            "labels": result.labels,
            "members": len(people.roles),
        },
        actor_id=user_id,
    )
    return board_id, result


class _People:
    def __init__(self) -> None:
        self.roles: dict[uuid.UUID, str] = {}
        self.by_key: dict[str, uuid.UUID] = {}  # email_key -> member of the new board
        self.strangers: set[str] = set()  # addresses named in tasks that are not members

    def member(self, address: str | None) -> uuid.UUID | None:
        if address is None:
            return None
        found = self.by_key.get(email_key(address))
        if found is None:
            self.strangers.add(address)
        return found


async def _members(
    uow: UnitOfWork, user_id: uuid.UUID, document: BoardDocument, result: ImportResult
) -> _People:
    """The importer owns the new board; everyone the document lists whose address names an
    account joins with their role (an owner of the old board becomes an admin)."""
    people = _People()
    importer = await users_repository.get(uow.session, user_id)
    assert importer is not None  # the job's row refers to it
    people.roles[importer.id] = "owner"
    people.by_key[importer.email_key] = importer.id
    wanted = {email_key(m.email): m for m in document.members}
    accounts = {
        user.email_key: user
        for user in (
            await uow.session.execute(select(User).where(User.email_key.in_(list(wanted))))
        ).scalars()
    }
    for key, member in wanted.items():
        account = accounts.get(key)
        if account is None:
            result.unmatched_members.append(Unmatched(name=member.email, reason="no such account"))
            continue
        if account.id == importer.id:
            continue
        role = "admin" if member.role == "owner" else member.role
        previous = people.roles.get(account.id)
        if previous is None or RANK[role] > RANK[previous]:
            people.roles[account.id] = role
        people.by_key[key] = account.id
    result.members_added = [
        MemberAdded(email=accounts[key].email, role=people.roles[accounts[key].id])
        for key in sorted(people.by_key)
        if key in accounts and accounts[key].id != importer.id
    ]
    return people


class _Rows:
    """One batch's rows, table by table."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.assignees: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []

    def add(
        self,
        task: DocTask,
        board_id: uuid.UUID,
        position: str,
        now: datetime,
        people: _People,
        label_ids: dict[str, uuid.UUID],
    ) -> None:
        task_id = uuid.uuid4()
        created_at = task.created_at or now
        comment_ids = [uuid.uuid4() for _ in task.comments]
        live_comments = 0
        for comment, comment_id in zip(task.comments, comment_ids, strict=True):
            written = comment.created_at or now
            self.comments.append(
                {
                    "id": comment_id,
                    "board_id": board_id,
                    "task_id": task_id,
                    "parent_id": comment_ids[comment.parent]
                    if comment.parent is not None
                    else None,
                    "author_id": people.member(comment.author),
                    "body": comment.body,
                    "created_at": written,
                    "updated_at": comment.edited_at or written,
                    "edited_at": comment.edited_at,
                    "deleted_at": comment.deleted_at,
                }
            )
            live_comments += comment.deleted_at is None
        creator = people.member(task.created_by)
        self.tasks.append(
            {
                "id": task_id,
                "board_id": board_id,
                "status": task.column,
                "position": position,
                "title": task.title,
                "description": task.description,
                "priority": task.priority,
                "start_at": task.start_at,
                "due_at": task.due_at,
                "created_by": creator,
                "updated_by": creator,
                "created_at": created_at,
                "updated_at": task.updated_at or created_at,
                "deleted_at": task.deleted_at,
                "version": 1,
                "comment_count": live_comments,
            }
        )
        assignees = {people.member(address) for address in task.assignees} - {None}
        self.assignees += [{"task_id": task_id, "user_id": uid} for uid in assignees]
        self.labels += [
            {"task_id": task_id, "label_id": label_ids[name.casefold()]}
            for name in {n.casefold(): n for n in task.labels}.values()
        ]
