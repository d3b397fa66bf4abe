"""an index of board events by the task they are about: a task's activity, newest first

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# taskboard.events.models.EVENT_TASK_ID, as it was when this index was made: task.* events
# carry the task in data.task, comment.* events name it in data.task_id.
TASK_ID = "coalesce((data -> 'task') ->> 'id', data ->> 'task_id')"


def upgrade() -> None:
    # An expression index, not a generated column: adding a stored column would rewrite the
    # whole log under an exclusive lock. Built CONCURRENTLY (outside the migration's
    # transaction): the log is the hottest table, and a plain build would hold every board's
    # writes for as long as it reads the log.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_board_events_task_id_seq",
            "board_events",
            [sa.text(TASK_ID), "seq"],
            postgresql_where=sa.text(f"{TASK_ID} IS NOT NULL"),
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_board_events_task_id_seq", table_name="board_events", postgresql_concurrently=True
        )
