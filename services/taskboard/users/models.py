from __future__ import annotations

import unicodedata

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from taskboard.core.db import Base, Timestamps, UUIDPrimaryKey

SITE_ROLES = ("admin", "user")


def email_key(email: str) -> str:
    """The form two addresses share when they name one account."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


class User(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320))
    # What makes two addresses the same account: email_key(email) (Unicode case-folded, so
    # "Ädam@" and "ädam@" are one; PostgreSQL's lower() under the C locale folds only ASCII).
    email_key: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    site_role: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    # Set for accounts created from an external OpenID Connect issuer's token.
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)

    __table_args__ = (
        Index("uq_users_email_key", email_key, unique=True),
        CheckConstraint("site_role IN ('admin', 'user')", name="site_role"),
    )
