"""Resolving the caller from an access token: ours, or a trusted OpenID Connect issuer's."""

from __future__ import annotations

from taskboard.auth.errors import InvalidToken
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.core.oidc import OidcIdentity, OidcVerifier
from taskboard.core.runtime import Resources
from taskboard.core.security import decode_access_token
from taskboard.users import repository as users_repository
from taskboard.users import service as users_service


async def authenticate_token(token: str, uow: UnitOfWork, resources: Resources) -> Principal:
    """Our own access token, else (when one is trusted) an OIDC issuer's; else InvalidToken."""
    claims = decode_access_token(resources.settings, token)
    if claims is not None:
        return Principal(user_id=claims.user_id, site_role=claims.site_role)
    verifier: OidcVerifier | None = resources.oidc
    if verifier is not None and verifier.claims_issuer(token) == verifier.issuer:
        identity = await verifier.verify(token)
        if identity is not None:
            return await _oidc_principal(uow, identity)
    raise InvalidToken()


async def _oidc_principal(uow: UnitOfWork, identity: OidcIdentity) -> Principal:
    user = await users_repository.get_by_oidc_subject(uow.session, identity.subject)
    if user is None:
        user = await users_repository.get_by_email(uow.session, identity.email)
        if user is not None:
            if user.oidc_subject is not None or not identity.email_verified:
                # Linking on an unverified address would hand the account to whoever typed it.
                raise InvalidToken("This email belongs to another account")
            user.oidc_subject = identity.subject
        elif user is None:
            user = await users_service.create(
                uow,
                email=identity.email,
                display_name=identity.name,
                password_hash=None,
                site_role=identity.site_role,
                oidc_subject=identity.subject,
            )
    if user.site_role != identity.site_role:
        user.site_role = identity.site_role  # the issuer is the authority on the site role
    await uow.session.flush()
    return Principal(user_id=user.id, site_role=user.site_role)
