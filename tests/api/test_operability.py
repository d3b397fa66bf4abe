from __future__ import annotations

import logging
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from taskboard.core import streams
from taskboard.core.logging import JsonFormatter
from taskboard.core.runtime import Resources
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


async def test_without_an_exporter_requests_still_carry_trace_ids(
    api: ApiClient, resources: Resources, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """No spans are recorded (no TASKBOARD_OTLP_ENDPOINT in tests), yet a request continues
    the caller's trace, or gets one of its own: in its problem responses, its access log line
    and the events it writes (the worker carries the trace on from there)."""
    assert not resources.settings.otlp_endpoint
    owner = await api.user("owner")
    board_id = uuid.UUID((await api.board(owner))["id"])
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traced = {**owner.headers, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    missing = f"/api/v1/boards/{uuid.uuid4()}"
    with caplog.at_level(logging.INFO, logger="taskboard.access"):
        assert (await api.request("GET", missing, headers=traced)).json()["trace_id"] == trace_id
        created = await api.request(
            "POST", f"/api/v1/boards/{board_id}/tasks", json={"title": "t"}, headers=traced
        )
    assert created.status_code == 201, created.text
    logged = {r.__dict__["route"]: r.__dict__["trace_id"] for r in caplog.records}
    assert logged["/api/v1/boards/{board_id}/tasks"] == trace_id
    shard = streams.stream_key(streams.shard_of(board_id, resources.settings.stream_shards))
    entries = [streams.StreamEvent.decode(f[b"e"]) for _, f in await redis.xrange(shard)]
    [event] = [e for e in entries if e.board_id == board_id and e.type == "task.created"]
    assert event.traceparent is not None
    assert event.traceparent.startswith(f"00-{trace_id}-")
    # Without a traceparent: a trace of its own, a new one per request.
    own = [(await api.request("GET", missing, headers=owner.headers)).json() for _ in range(2)]
    ids = [problem["trace_id"] for problem in own]
    assert len(set(ids)) == 2
    assert all(len(i) == 32 and i != trace_id for i in ids)
