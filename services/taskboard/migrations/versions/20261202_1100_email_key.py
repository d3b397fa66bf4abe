"""users.email_key: one account per address under Unicode case folding

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 11:00:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(email: str) -> str:
    # Frozen copy of taskboard.users.models.email_key: a migration must not change with it.
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def upgrade() -> None:
    op.add_column("users", sa.Column("email_key", sa.String(length=320), nullable=True))
    bind = op.get_bind()
    users = sa.table("users", sa.column("id"), sa.column("email"), sa.column("email_key"))
    keys: dict[str, str] = {}
    for user_id, email in bind.execute(sa.select(users.c.id, users.c.email)).all():
        key = _key(email)
        if key in keys:
            raise RuntimeError(
                f"users {keys[key]} and {user_id} have addresses that are one under Unicode "
                f"case folding ({email!r}); merge or rename one, then migrate again"
            )
        keys[key] = user_id
        bind.execute(users.update().where(users.c.id == user_id).values(email_key=key))
    op.alter_column("users", "email_key", nullable=False)
    op.drop_index("uq_users_email_lower", table_name="users")
    op.create_index("uq_users_email_key", "users", ["email_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_email_key", table_name="users")
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.drop_column("users", "email_key")
