from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from taskboard.api.app import create_app
from taskboard.core.config import Settings
from taskboard.core.runtime import Resources
from taskboard.core.security import ACCESS_TOKEN_ALGORITHM, ACCESS_TOKEN_AUDIENCE
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls
from tests.helpers import PASSWORD, ApiClient

API = "/api/v1"


async def test_register_rejects_duplicate_email_case_insensitively(api: ApiClient) -> None:
    alice = await api.user("alice")
    again = await api.request(
        "POST",
        f"{API}/auth/register",
        json={"email": alice.email.upper(), "password": PASSWORD, "display_name": "Other"},
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["errors"][0]["field"] == "email"


async def test_login_with_wrong_password_is_401(api: ApiClient) -> None:
    alice = await api.user("alice")
    wrong = await api.request(
        "POST", f"{API}/auth/login", json={"email": alice.email, "password": "nope-nope"}
    )
    assert wrong.status_code == 401
    unknown = await api.request(
        "POST", f"{API}/auth/login", json={"email": "ghost@example.com", "password": "x" * 10}
    )
    assert unknown.status_code == 401
    assert unknown.json()["type"] == wrong.json()["type"] == "/problems/invalid-credentials"


async def test_refresh_rotates_and_reuse_revokes_the_family(api: ApiClient) -> None:
    alice = await api.user("alice")
    first = alice.tokens["refresh_token"]
    rotated = await api.request("POST", f"{API}/auth/refresh", json={"refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    me = await api.request(
        "GET", f"{API}/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"}
    )
    assert me.status_code == 200

    replay = await api.request("POST", f"{API}/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    assert replay.json()["type"] == "/problems/refresh-token-reused"
    # The thief's replay also killed the legitimate, newer token of the same login.
    after = await api.request("POST", f"{API}/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401


async def test_logout_revokes_refresh_token_and_clears_cookie(api: ApiClient) -> None:
    alice = await api.user("alice")
    out = await api.request(
        "POST", f"{API}/auth/logout", json={"refresh_token": alice.tokens["refresh_token"]}
    )
    assert out.status_code == 204
    assert "taskboard_access=" in out.headers.get("set-cookie", "")
    again = await api.request(
        "POST", f"{API}/auth/refresh", json={"refresh_token": alice.tokens["refresh_token"]}
    )
    assert again.status_code == 401


async def test_cookie_authenticates_and_bad_cookie_is_cleared(api: ApiClient) -> None:
    alice = await api.user("alice")
    token = alice.tokens["access_token"]
    ok = await api.request("GET", f"{API}/me", headers={"Cookie": f"taskboard_access={token}"})
    assert ok.status_code == 200
    bad = await api.request("GET", f"{API}/me", headers={"Cookie": f"taskboard_access={token}x"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    assert 'taskboard_access=""' in bad.headers["set-cookie"]
    assert "Max-Age=0" in bad.headers["set-cookie"]


async def test_expired_and_forged_tokens_are_401(api: ApiClient, settings: Settings) -> None:
    alice = await api.user("alice")
    past = datetime.now(UTC) - timedelta(minutes=1)
    base = {"sub": alice.id, "sid": str(uuid.uuid4()), "aud": ACCESS_TOKEN_AUDIENCE, "role": "user"}
    valid = jwt.encode(
        {**base, "exp": past + timedelta(hours=1)},
        settings.secret_key.get_secret_value(),
        ACCESS_TOKEN_ALGORITHM,
    )
    # The same claims, correctly signed and unexpired, are accepted: each refusal below is
    # for its one defect.
    me = await api.request("GET", f"{API}/me", headers={"Authorization": f"Bearer {valid}"})
    assert me.status_code == 200, me.text
    expired = jwt.encode(
        {**base, "exp": past}, settings.secret_key.get_secret_value(), ACCESS_TOKEN_ALGORITHM
    )
    forged = jwt.encode({**base, "exp": past + timedelta(hours=1)}, "x" * 40, "HS256")
    unsigned = jwt.encode({**base, "exp": past + timedelta(hours=1)}, None, "none")
    for token in (expired, forged, unsigned, "not-a-jwt"):
        response = await api.request(
            "GET", f"{API}/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
    missing = await api.request("GET", f"{API}/boards")
    assert missing.status_code == 401


@pytest.fixture
def strict_limits(service_urls: ServiceUrls, resources: Resources) -> Resources:
    resources.settings = make_settings(
        service_urls, rate_limit_auth_per_ip=100, rate_limit_auth_per_account=3
    )
    return resources


async def test_failed_logins_are_limited_per_account_and_client(
    strict_limits: Resources, api: ApiClient
) -> None:
    alice = await api.user("alice")  # a successful login does not count
    statuses = []
    for _ in range(4):
        response = await api.request(
            "POST", f"{API}/auth/login", json={"email": alice.email, "password": "wrong-pass"}
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 429]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    right = {"email": alice.email, "password": PASSWORD}
    # This client is stopped, even with the right password, until the window ends...
    assert (await api.request("POST", f"{API}/auth/login", json=right)).status_code == 429
    # ...but the owner, elsewhere, is not locked out by someone else's failures.
    app = create_app(strict_limits.settings, resources=strict_limits)
    elsewhere = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as owner:
        assert (await owner.post(f"{API}/auth/login", json=right)).status_code == 200


async def test_register_is_rate_limited_per_ip(
    service_urls: ServiceUrls, resources: Resources, api: ApiClient
) -> None:
    resources.settings = make_settings(service_urls, rate_limit_auth_per_ip=2)
    results = []
    for i in range(3):
        response = await api.request(
            "POST",
            f"{API}/auth/register",
            json={"email": f"r{i}@example.com", "password": PASSWORD, "display_name": "R"},
        )
        results.append(response.status_code)
    assert results == [201, 201, 429]


async def test_concurrent_refresh_of_one_token_yields_one_winner(committed_api: ApiClient) -> None:
    alice = await committed_api.user("alice")
    body = {"refresh_token": alice.tokens["refresh_token"]}
    responses = await asyncio.gather(
        *[committed_api.request("POST", f"{API}/auth/refresh", json=body) for _ in range(5)]
    )
    assert sorted(r.status_code for r in responses).count(200) == 1


async def _browser_login(api: ApiClient, email: str) -> httpx.Response:
    """Sign in as a browser does; the response carries the session's cookies."""
    login = await api.request(
        "POST", f"{API}/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    return login


async def test_cookie_authenticated_writes_need_the_csrf_token(api: ApiClient) -> None:
    login = await _browser_login(api, (await api.user("csrf")).email)
    access = login.cookies["taskboard_access"]
    csrf = login.cookies["taskboard_csrf"]
    assert csrf
    assert csrf != access
    set_cookies = login.headers.get_list("set-cookie")
    csrf_cookie = next(c for c in set_cookies if c.startswith("taskboard_csrf="))
    assert "HttpOnly" not in csrf_cookie  # the page's script must read it
    assert "SameSite=strict" in csrf_cookie
    api.http.cookies.clear()
    both = {"Cookie": f"taskboard_access={access}; taskboard_csrf={csrf}"}
    # Reading needs no token.
    assert (await api.request("GET", f"{API}/boards", headers=both)).status_code == 200
    # A write authenticated by the cookie without the token, or with another one, is refused.
    for headers in (both, {**both, "X-CSRF-Token": csrf + "x"}, {**both, "X-CSRF-Token": ""}):
        refused = await api.request("POST", f"{API}/boards", json={"name": "B"}, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/csrf-token-invalid")
    # The cookie's token echoed in the header: accepted.
    ok = await api.request(
        "POST", f"{API}/boards", json={"name": "B"}, headers={**both, "X-CSRF-Token": csrf}
    )
    assert ok.status_code == 201, ok.text
    # A Bearer token is not sent by the browser on its own: no token needed.
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    plain = await api.request("POST", f"{API}/boards", json={"name": "C"}, headers=bearer)
    assert plain.status_code == 201, plain.text


async def test_a_browser_session_renews_and_ends_through_its_cookies(api: ApiClient) -> None:
    login_email = (await api.user("cookies")).email
    login = await _browser_login(api, login_email)
    refresh_cookie = next(
        c for c in login.headers.get_list("set-cookie") if c.startswith("taskboard_refresh=")
    )
    # Script cannot read it, and the browser sends it only to /auth (refresh and logout).
    assert "HttpOnly" in refresh_cookie
    assert "Path=/api/v1/auth" in refresh_cookie
    assert "SameSite=strict" in refresh_cookie
    jar = {name: login.cookies[name] for name in ("taskboard_refresh", "taskboard_csrf")}
    api.http.cookies.clear()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())

    # No body: the cookie is the refresh token, and it needs the CSRF header like any write.
    refused = await api.request("POST", f"{API}/auth/refresh", headers={"Cookie": cookie})
    assert refused.status_code == 403, refused.text
    csrf = {"Cookie": cookie, "X-CSRF-Token": jar["taskboard_csrf"]}
    renewed = await api.request("POST", f"{API}/auth/refresh", headers=csrf)
    assert renewed.status_code == 200, renewed.text
    assert renewed.cookies["taskboard_access"]
    assert renewed.cookies["taskboard_refresh"] != jar["taskboard_refresh"]  # rotated
    me = await api.request(
        "GET",
        f"{API}/me",
        headers={"Cookie": f"taskboard_access={renewed.cookies['taskboard_access']}"},
    )
    assert me.status_code == 200, me.text
    # The spent refresh cookie is refused (and ends the family, as a replayed token does).
    replayed = await api.request("POST", f"{API}/auth/refresh", headers=csrf)
    assert replayed.status_code == 401, replayed.text
    api.http.cookies.clear()

    # Logout by cookie: the session ends and every cookie is cleared.
    again = await _browser_login(api, login_email)
    jar = {name: again.cookies[name] for name in ("taskboard_refresh", "taskboard_csrf")}
    api.http.cookies.clear()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    out = await api.request(
        "POST",
        f"{API}/auth/logout",
        headers={"Cookie": cookie, "X-CSRF-Token": jar["taskboard_csrf"]},
    )
    assert out.status_code == 204, out.text
    cleared = " ".join(out.headers.get_list("set-cookie"))
    for name in ("taskboard_access", "taskboard_refresh", "taskboard_csrf"):
        assert f'{name}=""' in cleared
    after = await api.request(
        "POST", f"{API}/auth/refresh", json={"refresh_token": jar["taskboard_refresh"]}
    )
    assert after.status_code == 401
    # Neither body nor cookie: a clear refusal.
    api.http.cookies.clear()
    nothing = await api.request("POST", f"{API}/auth/refresh")
    assert nothing.status_code == 401
    assert "refresh cookie" in nothing.json()["detail"]
