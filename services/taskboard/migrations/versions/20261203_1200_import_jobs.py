"""import_jobs: board imports, queued by the api and built by the worker

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("progress", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column(
            "board_id", sa.Uuid(), sa.ForeignKey("boards.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("result", postgresql.JSONB(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("source IN ('taskboard', 'trello')", name="source"),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    )
    op.create_index(
        "ix_import_jobs_user_id_idempotency_key", "import_jobs", ["user_id", "idempotency_key"]
    )
    op.create_index(
        "ix_import_jobs_user_id_document_sha256", "import_jobs", ["user_id", "document_sha256"]
    )
    op.create_index("ix_import_jobs_status_updated_at", "import_jobs", ["status", "updated_at"])


def downgrade() -> None:
    op.drop_table("import_jobs")
