"""The board the snapshot phases read: thousands of realistic tasks, written straight to
PostgreSQL (COPY) so filling it is quick and costs the API nothing."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import asyncpg
from fractional_indexing import generate_key_between

from taskboard.users.models import email_key
from write.load_http import WORDS
from write.load_sql import BUMP_SEQ


async def fill_board(url: str, board: uuid.UUID, owner: uuid.UUID, ntasks: int) -> dict[str, int]:
    """5,000 realistic tasks in three columns, with extra members, labels and assignees."""
    rng = random.Random(7)
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        members = [owner]
        for n in range(4):
            uid = uuid.uuid4()
            email = f"member{n}-{uid.hex[:8]}@example.com"
            await conn.execute(
                "INSERT INTO users (id, email, email_key, display_name) VALUES ($1, $2, $3, $4)",
                uid,
                email,
                email_key(email),
                f"Member {n}",
            )
            await conn.execute(
                "INSERT INTO board_members (board_id, user_id, role, created_at) "
                "VALUES ($1, $2, 'member', $3)",
                board,
                uid,
                now,
            )
            members.append(uid)
        labels = []
        for name, color in (("bug", "#dc2626"), ("feature", "#2563eb"), ("chore", "#6b7280")):
            lid = uuid.uuid4()
            await conn.execute(
                "INSERT INTO labels (id, board_id, name, color) VALUES ($1, $2, $3, $4)",
                lid,
                board,
                name,
                color,
            )
            labels.append(lid)
        statuses = ("todo", "in_progress", "done")
        last: dict[str, str | None] = dict.fromkeys(statuses)
        tasks, assignees, task_labels = [], [], []
        priorities = ("none", "low", "medium", "high", "urgent")
        for i in range(ntasks):
            status = statuses[i % 3]
            last[status] = generate_key_between(last[status], None)
            tid = uuid.uuid4()
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6)))
            description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 10)))
            created = now.replace(microsecond=i % 1_000_000)
            tasks.append(
                (
                    tid,
                    board,
                    status,
                    last[status],
                    f"{words.capitalize()} #{i}",
                    description,
                    rng.choice(priorities),
                    1,
                    owner,
                    owner,
                    created,
                    created,
                )
            )
            if i % 3 == 0:
                for uid in rng.sample(members, rng.randint(1, 2)):
                    assignees.append((tid, uid))
            if i % 4 == 0:
                task_labels.append((tid, rng.choice(labels)))
        await conn.copy_records_to_table(
            "tasks",
            records=tasks,
            columns=[
                "id",
                "board_id",
                "status",
                "position",
                "title",
                "description",
                "priority",
                "version",
                "created_by",
                "updated_by",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "task_assignees", records=assignees, columns=["task_id", "user_id"]
        )
        await conn.copy_records_to_table(
            "task_labels", records=task_labels, columns=["task_id", "label_id"]
        )
        # A new seq (with its event, so the log stays gap-free): no snapshot cached before the
        # fill can be served after it.
        seq = await conn.fetchval(BUMP_SEQ, board)
        await conn.execute(
            "INSERT INTO board_events (board_id, seq, type, data, actor_id, created_at) "
            "VALUES ($1, $2, 'board.updated', '{}'::jsonb, $3, now())",
            board, seq, owner,
        )  # fmt: skip
        await conn.execute("ANALYZE")
        return {"tasks": len(tasks), "assignments": len(assignees), "labelled": len(task_labels)}
    finally:
        await conn.close()
