"""An external OpenID Connect issuer, played by the test: a real JWKS over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from taskboard.core.oidc import OidcVerifier
from taskboard.core.runtime import Resources
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient

ISSUER = "https://id.example.test/realms/acme"
AUDIENCE = "taskboard"


# Key generation is slow; one key pair serves the whole module.
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    def __init__(self) -> None:
        self.key = _KEY
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.requests = 0

    def token(self, **overrides: Any) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "kc-123",
            "email": "kim@example.com",
            "email_verified": True,
            "name": "Kim",
            "iat": now,
            "exp": now + timedelta(minutes=5),
            "realm_access": {"roles": ["user"]},
        }
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def issuer() -> Iterator[tuple[Issuer, str]]:
    state = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = json.dumps(state.jwks).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/certs"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def oidc(issuer: tuple[Issuer, str], service_urls: ServiceUrls, resources: Resources) -> Issuer:
    state, url = issuer
    resources.settings = make_settings(
        service_urls,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=url,
        oidc_role_claim="realm_access.roles",
    )
    resources.oidc = OidcVerifier(resources.settings)
    return state


async def test_issuer_token_creates_and_maps_a_user(oidc: Issuer, api: ApiClient) -> None:
    token = oidc.token(realm_access={"roles": ["taskboard-admin"]})
    me = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "kim@example.com"
    assert me.json()["site_role"] == "admin"
    # Same subject again: the same user, role re-read from the issuer's claim.
    token = oidc.token()
    again = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.json()["id"] == me.json()["id"]
    assert again.json()["site_role"] == "user"
    board = await api.request(
        "POST", "/api/v1/boards", json={"name": "SSO"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert board.status_code == 201
    assert oidc.requests == 1  # the key set is cached


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"exp": datetime.now(UTC) - timedelta(minutes=1)},
        {"email": None},
    ],
    ids=["wrong-audience", "expired", "no-email"],
)
async def test_bad_issuer_tokens_are_refused(
    oidc: Issuer, api: ApiClient, claims: dict[str, Any]
) -> None:
    token = oidc.token(**claims)
    response = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_forged_and_unsigned_issuer_tokens_are_refused(oidc: Issuer, api: ApiClient) -> None:
    claims = jwt.decode(oidc.token(), options={"verify_signature": False})
    forged = jwt.encode(claims, _OTHER_KEY, algorithm="RS256", headers={"kid": "k1"})
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (forged, unsigned):
        response = await api.request(
            "GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401


async def test_unverified_email_does_not_take_over_a_local_account(
    oidc: Issuer, api: ApiClient
) -> None:
    local = await api.user("kim")
    token = oidc.token(email=local.email, email_verified=False, sub="attacker")
    response = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_unverified_email_creates_no_account(oidc: Issuer, api: ApiClient) -> None:
    token = oidc.token(email="unproven@example.com", email_verified=False, sub="new-person")
    response = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "verified" in response.json()["detail"]
    # The address is still free for whoever can prove it.
    owner = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "unproven@example.com", "password": "long enough", "display_name": "O"},
    )
    assert owner.status_code == 201, owner.text
