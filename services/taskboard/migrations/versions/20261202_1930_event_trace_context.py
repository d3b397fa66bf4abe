"""board_events.trace_context: the writing request's W3C traceparent, for the worker

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: instant on a large log (no rewrite); old events have none.
    op.add_column("board_events", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("board_events", "trace_context")
