"""boards.epoch: which history a board's seq counts in

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("boards", sa.Column("epoch", sa.String(length=16), nullable=True))
    op.execute("UPDATE boards SET epoch = substr(md5(random()::text || id::text), 1, 12)")
    op.alter_column("boards", "epoch", nullable=False)


def downgrade() -> None:
    op.drop_column("boards", "epoch")
