from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from taskboard.core.logging import JsonFormatter
from tests.helpers import ApiClient


async def test_healthz_and_readyz(api: ApiClient) -> None:
    assert (await api.request("GET", "/healthz")).json() == {"status": "ok"}
    ready = await api.request("GET", "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_metrics_count_requests_by_route_template(api: ApiClient) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    await api.request("GET", f"/api/v1/boards/{board['id']}", headers=owner.headers)
    text = (await api.request("GET", "/metrics")).text
    assert 'route="/api/v1/boards/{board_id}"' in text
    assert "taskboard_http_request_duration_seconds_bucket" in text
    assert "taskboard_db_pool_checked_out" in text
    assert board["id"] not in text  # templates, never raw ids


async def test_unknown_route_and_method_are_problems(api: ApiClient) -> None:
    missing = await api.request("GET", "/api/v1/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await api.request("PUT", "/api/v1/boards")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_openapi_and_docs_are_served(api: ApiClient) -> None:
    spec = (await api.request("GET", "/api/openapi.json")).json()
    for path in ("/api/v1/boards/{board_id}/tasks", "/api/v1/tasks/{task_id}/move", "/api/v1/me"):
        assert path in spec["paths"]
    assert (await api.request("GET", "/api/docs")).status_code == 200


async def test_500_hides_the_stack_and_logs_the_trace_id(
    api: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    owner = await api.user("owner")
    board = await api.board(owner)
    # A real failure below the app: the schema no longer matches the code (rolled back after).
    transport_app = api.http._transport.app  # type: ignore[attr-defined]
    resources = transport_app.state.resources
    async with resources.sessionmaker() as session:
        await session.execute(text("ALTER TABLE board_events RENAME COLUMN type TO kind"))
        await session.commit()
    with caplog.at_level(logging.ERROR, logger="taskboard.api"):
        response = await api.request(
            "POST",
            f"/api/v1/boards/{board['id']}/tasks",
            json={"title": "x"},
            headers=owner.headers,
        )
    assert response.status_code == 500
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text
    assert "board_events" not in response.text
    assert len(body["trace_id"]) == 32
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged
    assert body["trace_id"] in JsonFormatter().format(logged[0])
