"""an index of removed attachments by when they were removed: the retention purge

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The file collector deletes removed attachments after the retention, oldest first
    # (attachments.collection.purge_removed); without an index each pass read the whole table.
    # Partial: live attachments, nearly all rows, are never looked up by it. Built
    # CONCURRENTLY, outside the migration's transaction, so uploads go on meanwhile.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_attachments_deleted_at",
            "attachments",
            ["deleted_at"],
            postgresql_where="deleted_at IS NOT NULL",
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_attachments_deleted_at", table_name="attachments", postgresql_concurrently=True
        )
