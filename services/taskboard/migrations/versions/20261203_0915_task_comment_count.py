"""tasks.comment_count: live comments on the task, kept by comment create and delete

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: no rewrite of tasks (PostgreSQL 11+), then one pass to count.
    op.add_column(
        "tasks", sa.Column("comment_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        "UPDATE tasks SET comment_count = counted.n FROM "
        "(SELECT task_id, count(*) AS n FROM comments WHERE deleted_at IS NULL "
        "GROUP BY task_id) AS counted "
        "WHERE counted.task_id = tasks.id"
    )


def downgrade() -> None:
    op.drop_column("tasks", "comment_count")
