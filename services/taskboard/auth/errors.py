from taskboard.core.errors import Forbidden, Unauthorized


class InvalidToken(Unauthorized):
    type = "invalid-token"
    title = "Access token is invalid or expired"


class InvalidCredentials(Unauthorized):
    type = "invalid-credentials"
    title = "Invalid email or password"


class InvalidRefreshToken(Unauthorized):
    type = "invalid-refresh-token"
    title = "Refresh token is invalid, expired or revoked"


class RefreshTokenReused(InvalidRefreshToken):
    type = "refresh-token-reused"
    title = "Refresh token was already used; every session of this login has been revoked"
    # The revocation must stick even though the request fails.
    commits = True


class CsrfTokenInvalid(Forbidden):
    type = "csrf-token-invalid"
    title = "A request authenticated by the session cookie must carry the CSRF token"
