from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from our access token or a trusted OIDC issuer's token."""

    user_id: uuid.UUID
    site_role: str
    # The login (refresh-token family) our own tokens belong to; None for an issuer's token.
    session_id: uuid.UUID | None = None
    # When the token stops being accepted (a socket is closed then unless re-authenticated).
    expires_at: datetime | None = None
