"""Trusting an external OpenID Connect issuer (e.g. Keycloak): its tokens are checked against
its JWKS (issuer, audience, expiry, an allow-list of algorithms) and mapped to a local user."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient

from taskboard.core.config import Settings

# Asymmetric algorithms only: an HS* "OIDC" token would be checked against public key bytes.
SUPPORTED = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True)
class OidcIdentity:
    subject: str
    email: str
    name: str
    site_role: str
    email_verified: bool


class OidcVerifier:
    def __init__(self, settings: Settings) -> None:
        if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url):
            raise ValueError("OIDC needs an issuer, an audience and a JWKS URL")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = [a for a in settings.oidc_algorithms if a in SUPPORTED]
        self.role_claim = settings.oidc_role_claim
        self.admin_values = set(settings.oidc_admin_values)
        self._jwks = PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def claims_issuer(self, token: str) -> str | None:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        issuer = claims.get("iss")
        return issuer if isinstance(issuer, str) else None

    async def verify(self, token: str) -> OidcIdentity | None:
        # PyJWKClient fetches the key set with blocking urllib: keep it off the event loop.
        return await asyncio.to_thread(self._verify, token)

    def _verify(self, token: str) -> OidcIdentity | None:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in self.algorithms:
                return None
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            return None
        roles = _claim(claims, self.role_claim)
        values = set(roles) if isinstance(roles, list) else {roles}
        return OidcIdentity(
            subject=f"{self.issuer}|{claims['sub']}",
            email=email,
            name=str(claims.get("name") or claims.get("preferred_username") or email)[:100],
            site_role="admin" if values & self.admin_values else "user",
            email_verified=claims.get("email_verified") is True,
        )


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path, e.g. realm_access.roles for Keycloak."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
