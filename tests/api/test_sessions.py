"""Sessions end when their owner says so: logout, logout everywhere, a password change, or a
replayed refresh token. Their access tokens stop working at once, not 15 minutes later."""

from __future__ import annotations

from typing import Any

from tests.helpers import PASSWORD, ApiClient, User

API = "/api/v1"


async def _login(api: ApiClient, user: User, password: str = PASSWORD) -> dict[str, Any]:
    response = await api.request(
        "POST", f"{API}/auth/login", json={"email": user.email, "password": password}
    )
    assert response.status_code == 200, response.text
    api.http.cookies.clear()  # each session authenticates by header only
    tokens: dict[str, Any] = response.json()
    return tokens


async def _me(api: ApiClient, tokens: dict[str, Any]) -> int:
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    return (await api.request("GET", f"{API}/me", headers=bearer)).status_code


async def _refresh(api: ApiClient, tokens: dict[str, Any]) -> int:
    body = {"refresh_token": tokens["refresh_token"]}
    return (await api.request("POST", f"{API}/auth/refresh", json=body)).status_code


async def test_logout_ends_that_session_only(api: ApiClient) -> None:
    alice = await api.user("alice")
    laptop, phone = await _login(api, alice), await _login(api, alice)
    assert (await _me(api, laptop), await _me(api, phone)) == (200, 200)
    out = await api.request(
        "POST", f"{API}/auth/logout", json={"refresh_token": laptop["refresh_token"]}
    )
    assert out.status_code == 204
    assert await _me(api, laptop) == 401
    assert await _refresh(api, laptop) == 401
    assert await _me(api, phone) == 200
    assert await _refresh(api, phone) == 200


async def test_logout_everywhere_ends_every_session(api: ApiClient) -> None:
    alice, bob = await api.user("alice"), await api.user("bob")
    laptop, phone, bobs = await _login(api, alice), await _login(api, alice), await _login(api, bob)
    everywhere = await api.request(
        "POST",
        f"{API}/auth/logout-all",
        headers={"Authorization": f"Bearer {phone['access_token']}"},
    )
    assert everywhere.status_code == 204
    for tokens in (laptop, phone):
        assert await _me(api, tokens) == 401
        assert await _refresh(api, tokens) == 401
    assert await _me(api, bobs) == 200  # another account is untouched
    assert await _me(api, await _login(api, alice)) == 200  # signing in again works


async def test_password_change_ends_other_sessions_and_keeps_the_caller_in(
    api: ApiClient,
) -> None:
    alice = await api.user("alice")
    laptop, phone = await _login(api, alice), await _login(api, alice)
    bearer = {"Authorization": f"Bearer {phone['access_token']}"}
    wrong = await api.request(
        "POST",
        f"{API}/me/password",
        json={"current_password": "not it", "new_password": "a brand new secret"},
        headers=bearer,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    assert await _me(api, laptop) == 200  # a failed attempt ends nothing
    changed = await api.request(
        "POST",
        f"{API}/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
        headers=bearer,
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["cache-control"] == "no-store"
    fresh = changed.json()
    for tokens in (laptop, phone):
        assert await _me(api, tokens) == 401
        assert await _refresh(api, tokens) == 401
    assert await _me(api, fresh) == 200
    old = await api.request(
        "POST", f"{API}/auth/login", json={"email": alice.email, "password": PASSWORD}
    )
    assert old.status_code == 401
    assert await _me(api, await _login(api, alice, "a brand new secret")) == 200


async def test_a_replayed_refresh_token_ends_its_session(api: ApiClient) -> None:
    alice = await api.user("alice")
    stolen = await _login(api, alice)
    rotated = await api.request(
        "POST", f"{API}/auth/refresh", json={"refresh_token": stolen["refresh_token"]}
    )
    assert rotated.status_code == 200
    assert await _me(api, rotated.json()) == 200
    replay = await api.request(
        "POST", f"{API}/auth/refresh", json={"refresh_token": stolen["refresh_token"]}
    )
    assert replay.status_code == 401
    assert await _me(api, rotated.json()) == 401
    assert await _me(api, stolen) == 401
