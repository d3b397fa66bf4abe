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

SELECT_COLUMNS = """
SELECT board_id, key, name, position, wip_limit, id, created_at, updated_at
FROM board_columns WHERE board_id = $1 ORDER BY position
"""
MAX_POSITION = """
SELECT max(position) FROM tasks WHERE board_id = $1 AND status = $2 AND deleted_at IS NULL
"""
INSERT_TASK_LIKE_ORM = """
INSERT INTO tasks (board_id, status, position, title, description, priority, start_at, due_at,
                   created_by, updated_by, deleted_at, version, id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING search
"""

# The seq bump and the event insert as one data-modifying CTE, as events.append sends them.
BUMP_AND_LOG = """
WITH bumped AS (
    UPDATE boards SET last_seq = last_seq + 1, updated_at = now() WHERE id = $1 RETURNING last_seq
)
INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at)
SELECT $1, bumped.last_seq, 'task.created', $2::jsonb, $3, $4 FROM bumped
RETURNING seq
"""


class RawWriter:
    """The create transaction over asyncpg.

    `lean` is the transaction reduced to its four essential statements (the baseline the
    targets compare against). `service` replays the statements one HTTP create sends, as
    PostgreSQL's own log showed them (the report lists them at the end: compare when the
    service changes), including the pool's pre-ping. HTTP minus `service` is what the API
    process adds (Python, HTTP, Redis publish); `service` minus `lean` is extra round trips.
    """

    def __init__(self, board: uuid.UUID, user: uuid.UUID, *, service: bool = False) -> None:
        self.board, self.user, self.service = board, user, service
        self.last_position: str | None = None

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
        ping = conn.transaction()  # SQLAlchemy's pool_pre_ping on asyncpg
        await ping.start()
        await conn.fetchrow(";")
        await ping.rollback()
        async with conn.transaction():
            if await conn.fetchval(ROLE_FOR_UPDATE, self.board, self.user) is None:
                raise RuntimeError("not a member of the raw board")
            columns = await conn.fetch(SELECT_COLUMNS, self.board)
            status = columns[0]["key"]
            last = await conn.fetchval(MAX_POSITION, self.board, status)
            task_id, now, name = uuid.uuid4(), datetime.now(UTC), title(i)
            position = generate_key_between(last, None)
            await conn.fetchval(
                INSERT_TASK_LIKE_ORM, self.board, status, position, name, "", "none", None, None,
                self.user, self.user, None, 1, task_id, now, now,
            )  # fmt: skip
            task = {
                "id": task_id, "board_id": self.board, "status": status, "position": position,
                "title": name, "description": "", "priority": "none", "assignee_ids": [],
                "labels": [], "start_at": None, "due_at": None, "created_by": self.user,
                "updated_by": self.user, "created_at": now.isoformat(),
                "updated_at": now.isoformat(), "deleted_at": None, "version": 1,
            }  # fmt: skip
            await conn.fetchval(BUMP_AND_LOG, self.board, self._event(task), self.user, now)


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
