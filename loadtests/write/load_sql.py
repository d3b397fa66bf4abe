"""The create transaction straight over asyncpg: the baseline the HTTP figures are held to."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fractional_indexing import generate_key_between

from write.load_http import run_ops, title

ROLE_FOR_UPDATE = """
SELECT board_members.role FROM board_members
JOIN boards ON boards.id = board_members.board_id
WHERE board_members.board_id = $1 AND board_members.user_id = $2
FOR NO KEY UPDATE OF boards
"""
INSERT_TASK = """
INSERT INTO tasks (id, board_id, status, position, title, description, priority, version,
                   created_by, updated_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, '', 'none', 1, $6, $6, $7, $7)
"""
BUMP_SEQ = """
UPDATE boards SET last_seq = last_seq + 1, updated_at = now() WHERE id = $1 RETURNING last_seq
"""
INSERT_EVENT = """
INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at)
VALUES ($1, $2, 'task.created', $3::jsonb, $4, $5)
"""

# What one HTTP create sends since migration 0017 (tasks.repository.create_in_one_trip): one
# call of taskboard_create_task, its own transaction when the request has no Idempotency-Key.
CREATE_TASK = """
SELECT * FROM taskboard_create_task(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16)
"""
WRITERS = ["member", "admin", "owner"]

# What it sent before (and still sends against a database without the function, e.g. an older
# tree's): the lock statement reads role, column and the column's tail (exact when nobody wrote
# in between), then one statement writes the task, its links, the seq and the event.
LOCK_WITH_TAIL = """
SELECT m.role, b.archived_at IS NOT NULL, col.key, col.wip_limit, b.task_count,
       b.last_seq = seen.last_seq, tail.last, tail.live
FROM board_members m
JOIN boards b ON b.id = m.board_id
JOIN boards seen ON seen.id = b.id
LEFT JOIN LATERAL (
    SELECT c.key, c.wip_limit FROM board_columns c WHERE c.board_id = b.id
    ORDER BY c.position LIMIT 1
) col ON true
LEFT JOIN LATERAL (
    SELECT max(t.position) AS last, count(*) AS live FROM tasks t
    WHERE t.board_id = b.id AND t.status = col.key AND t.deleted_at IS NULL
) tail ON true
WHERE m.board_id = $1 AND m.user_id = $2
FOR NO KEY UPDATE OF b
"""
MAX_POSITION = """
SELECT max(position), count(*) FROM tasks WHERE board_id = $1 AND status = $2 AND deleted_at IS NULL
"""
INSERT_TASK_AND_EVENT = """
WITH new_task AS (
    INSERT INTO tasks (id, board_id, status, position, title, description, priority, start_at,
                       due_at, created_by, updated_by, created_at, updated_at, deleted_at,
                       version, comment_count)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $11, NULL, 1, 0)
), new_assignees AS (
    INSERT INTO task_assignees (task_id, user_id) SELECT $1, unnest($12::uuid[])
), new_labels AS (
    INSERT INTO task_labels (task_id, label_id) SELECT $1, unnest($13::uuid[])
), bumped AS (
    UPDATE boards SET last_seq = last_seq + 1, updated_at = now(), task_count = task_count + $14
    WHERE id = $15 RETURNING last_seq
)
INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at, trace_context)
SELECT $15, bumped.last_seq, $16, $17::jsonb, $18, clock_timestamp(), $19 FROM bumped
RETURNING seq, created_at
"""


class RawWriter:
    """The create transaction over asyncpg.

    `lean` is the transaction reduced to its four essential statements (the baseline the
    targets compare against). `service` replays the statements one HTTP create sends (the
    report lists them, from PostgreSQL's own log, at the end: compare when the service
    changes). HTTP minus `service` is what the API process adds (Python, HTTP, Redis publish);
    `service` minus `lean` is what its statements cost beyond the essential four.
    """

    def __init__(self, board: uuid.UUID, user: uuid.UUID, *, service: bool = False) -> None:
        self.board, self.user, self.service = board, user, service
        self.last_position: str | None = None
        self.one_trip: bool | None = None  # whether the database has taskboard_create_task

    def _event(self, task: dict[str, Any]) -> str:
        return json.dumps({"task": task}, default=str)

    async def create(self, conn: asyncpg.Connection, i: int) -> None:
        if self.service:
            await self._create_like_service(conn, i)
            return
        async with conn.transaction():
            role = await conn.fetchval(ROLE_FOR_UPDATE, self.board, self.user)
            if role is None:
                raise RuntimeError("not a member of the raw board")
            # Under the board lock, as the service does: the next position in the column.
            position = generate_key_between(self.last_position, None)
            self.last_position = position
            task_id, now, name = uuid.uuid4(), datetime.now(UTC), title(i)
            await conn.execute(
                INSERT_TASK, task_id, self.board, "todo", position, name, self.user, now
            )
            seq = await conn.fetchval(BUMP_SEQ, self.board)
            task = {
                "id": task_id, "board_id": self.board, "status": "todo", "position": position,
                "title": name, "description": "", "priority": "none", "assignee_ids": [],
                "labels": [], "start_at": None, "due_at": None, "created_by": self.user,
                "updated_by": self.user, "created_at": now.isoformat(),
                "updated_at": now.isoformat(), "deleted_at": None, "version": 1,
            }  # fmt: skip
            await conn.execute(INSERT_EVENT, self.board, seq, self._event(task), self.user, now)

    async def _create_like_service(self, conn: asyncpg.Connection, i: int) -> None:
        if self.one_trip is None:
            self.one_trip = bool(
                await conn.fetchval("SELECT to_regproc('taskboard_create_task') IS NOT NULL")
            )
        if self.one_trip:
            await self._create_in_one_trip(conn, i)
            return
        async with conn.transaction():
            row = await conn.fetchrow(LOCK_WITH_TAIL, self.board, self.user)
            if row is None:
                raise RuntimeError("not a member of the raw board")
            status, last = row[2], row[6]
            if not row[5]:  # someone wrote since this statement's snapshot: read it again
                last = (await conn.fetchrow(MAX_POSITION, self.board, status))[0]
            task_id, now, name = uuid.uuid4(), datetime.now(UTC), title(i)
            position = generate_key_between(last, None)
            task = {
                "id": task_id, "board_id": self.board, "status": status, "position": position,
                "title": name, "description": "", "priority": "none", "assignee_ids": [],
                "labels": [], "start_at": None, "due_at": None, "created_by": self.user,
                "updated_by": self.user, "created_at": now.isoformat(),
                "updated_at": now.isoformat(), "deleted_at": None, "version": 1,
            }  # fmt: skip
            await conn.fetchrow(
                INSERT_TASK_AND_EVENT, task_id, self.board, status, position, name, "", "none",
                None, None, self.user, now, [], [], 1, self.board, "task.created",
                self._event(task), self.user, None,
            )  # fmt: skip

    async def _create_in_one_trip(self, conn: asyncpg.Connection, i: int) -> None:
        task_id, now, name = uuid.uuid4(), datetime.now(UTC), title(i)
        task = {
            "id": task_id, "board_id": self.board, "status": "", "position": "",
            "title": name, "description": "", "priority": "none", "assignee_ids": [],
            "labels": [], "start_at": None, "due_at": None, "created_by": self.user,
            "updated_by": self.user, "created_at": now.isoformat(),
            "updated_at": now.isoformat(), "deleted_at": None, "version": 1, "comment_count": 0,
        }  # fmt: skip
        row = await conn.fetchrow(
            CREATE_TASK, self.board, self.user, None, WRITERS, 10**9, task_id, name, "",
            "none", None, None, now, [], [], self._event(task), None,
        )  # fmt: skip
        if row is None or row[9] is None:
            raise RuntimeError("taskboard_create_task refused the raw board's create")


async def raw_sequential(
    conn: asyncpg.Connection, writer: RawWriter, total: int
) -> tuple[float, list[float]]:
    return await run_ops(total, 1, lambda i: writer.create(conn, i))


async def raw_concurrent(
    pool: asyncpg.Pool, writer: RawWriter, total: int, conc: int
) -> tuple[float, list[float]]:
    async def op(i: int) -> None:
        async with pool.acquire() as conn:
            await writer.create(conn, i)

    return await run_ops(total, conc, op)
