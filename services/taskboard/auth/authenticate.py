"""Resolving the caller from an access token: ours, or a trusted OpenID Connect issuer's."""

from __future__ import annotations

from taskboard.auth import sessions
from taskboard.auth.errors import InvalidToken
from taskboard.auth.principal import Principal
from taskboard.core.db import UnitOfWork
from taskboard.core.oidc import OidcIdentity, OidcVerifier
from taskboard.core.runtime import Resources
from taskboard.core.security import decode_access_token
from taskboard.users import repository as users_repository
from taskboard.users import service as users_service


async def own_token_principal(token: str, resources: Resources) -> Principal | None:
    """The caller of one of our access tokens, without the database; None when the token is
    not ours (or is malformed or expired). Raises InvalidToken for an ended session."""
    claims = decode_access_token(resources.settings, token)
    if claims is None:
        return None
    if claims.session_id is not None and await sessions.is_ended(
        resources.redis, claims.session_id
    ):
        raise InvalidToken("This session has ended; sign in again")
    return Principal(
        user_id=claims.user_id,
        site_role=claims.site_role,
        session_id=claims.session_id,
        expires_at=claims.expires_at,
    )


async def authenticate_token(token: str, uow: UnitOfWork, resources: Resources) -> Principal:
    """Our own access token, else (when one is trusted) an OIDC issuer's; else InvalidToken."""
    principal = await own_token_principal(token, resources)
    if principal is not None:
        return principal
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
        elif not identity.email_verified:
            # An account holding an address nobody proved would block its real owner from
            # registering and receive mail meant for them.
            raise InvalidToken("Your identity provider has not verified this e-mail address")
        else:
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
