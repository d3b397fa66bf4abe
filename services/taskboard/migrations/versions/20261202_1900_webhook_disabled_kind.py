"""webhook_disabled notifications: a new kind, on for those who saved their preferences too

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Saved preferences list the kinds that existed then; a new kind is on, as for everyone
    # with the defaults, except by e-mail for those who stopped all e-mail (unsubscribed).
    op.execute(
        """
        UPDATE notification_preferences
        SET in_app = array_append(in_app, 'webhook_disabled'),
            email = CASE WHEN cardinality(email) > 0
                         THEN array_append(email, 'webhook_disabled') ELSE email END
        WHERE NOT ('webhook_disabled' = ANY(in_app))
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE notification_preferences
        SET in_app = array_remove(in_app, 'webhook_disabled'),
            email = array_remove(email, 'webhook_disabled')
        """
    )
    op.execute("DELETE FROM notifications WHERE kind = 'webhook_disabled'")
