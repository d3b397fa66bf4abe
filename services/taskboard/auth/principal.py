from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from our access token or a trusted OIDC issuer's token."""

    user_id: uuid.UUID
    site_role: str
