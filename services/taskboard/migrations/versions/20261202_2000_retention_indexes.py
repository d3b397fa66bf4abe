"""indexes for dead letters (listed, counted) and for deleting settled rows after retention

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_email_outbox_dead",
        "email_outbox",
        ["created_at", "id"],
        postgresql_where=sa.text("state = 'dead'"),
    )
    op.create_index(
        "ix_email_outbox_settled",
        "email_outbox",
        ["created_at"],
        postgresql_where=sa.text("state IN ('sent', 'skipped')"),
    )
    op.create_index(
        "ix_reminders_settled",
        "reminders",
        ["due_at"],
        postgresql_where=sa.text("state <> 'scheduled'"),
    )
    op.create_index(
        "ix_webhook_deliveries_dead",
        "webhook_deliveries",
        ["created_at", "id"],
        postgresql_where=sa.text("state = 'dead'"),
    )
    op.create_index(
        "ix_webhook_deliveries_delivered",
        "webhook_deliveries",
        ["delivered_at"],
        postgresql_where=sa.text("state = 'delivered'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_delivered", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_dead", table_name="webhook_deliveries")
    op.drop_index("ix_reminders_settled", table_name="reminders")
    op.drop_index("ix_email_outbox_settled", table_name="email_outbox")
    op.drop_index("ix_email_outbox_dead", table_name="email_outbox")
