"""boards.task_count: the tasks a board stores, kept by the statement that creates one

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 12:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "boards", sa.Column("task_count", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.execute(
        "UPDATE boards SET task_count = counted.n FROM "
        "(SELECT board_id, count(*) AS n FROM tasks GROUP BY board_id) AS counted "
        "WHERE counted.board_id = boards.id"
    )


def downgrade() -> None:
    op.drop_column("boards", "task_count")
