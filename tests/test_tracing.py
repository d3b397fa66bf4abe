"""The api process as deployed (gunicorn + uvicorn worker) exports its spans over OTLP/HTTP to a
receiver the test runs, and its JSON log lines carry the same trace ids."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from taskboard.embedded.processes import ManagedProcess, free_port, http_ok, taskboard_command
from tests.conftest import TEST_SECRET
from tests.fixtures.services import ServiceUrls, separate_services
from tests.fixtures.smtp import SmtpServer
from tests.helpers import eventually
from tests.realtime.cluster import account, board_with, start, wait_ready


class Collector:
    def __init__(self) -> None:
        self.spans: list[tuple[str, str, dict[str, str]]] = []  # (trace id, name, attributes)
        self.lock = threading.Lock()


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    state = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with state.lock:
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            attributes = {a.key: str(a.value) for a in span.attributes}
                            state.spans.append((span.trace_id.hex(), span.name, attributes))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_api_process_exports_traces_and_logs_trace_ids(
    service_urls: ServiceUrls, collector: tuple[Collector, str], tmp_path: Path
) -> None:
    state, endpoint = collector
    port = free_port()
    env = {
        **os.environ,
        "TASKBOARD_DATABASE_URL": service_urls.database_url,
        "TASKBOARD_REDIS_URL": service_urls.redis_url,
        "TASKBOARD_SECRET_KEY": TEST_SECRET,
        "TASKBOARD_OTLP_ENDPOINT": endpoint,
        "TASKBOARD_WEB_CONCURRENCY": "1",
        "TASKBOARD_METRICS_PORT": "0",
        "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
        "TASKBOARD_PASSWORD_HASH_MEMORY_KIB": "64",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    url = f"http://127.0.0.1:{port}"
    api = ManagedProcess(
        taskboard_command("api", "--port", str(port)),
        name="api",
        env=env,
        stderr=tmp_path / "api.stderr",  # the JSON log lines
        ready=http_ok(f"{url}/readyz"),
        ready_timeout=60,
        stop_timeout=30,  # then SIGKILL to its process group: the gunicorn workers too
    ).start()
    try:
        api.wait_ready()
        email = f"trace-{port}@example.com"
        register = httpx.post(
            f"{url}/api/v1/auth/register",
            json={"email": email, "password": "password123", "display_name": "T"},
        )
        assert register.status_code == 201, register.text
        missing = httpx.get(f"{url}/api/v1/boards/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 401
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with state.lock:
                names = [name for _, name, _ in state.spans]
            if "POST /api/v1/auth/register" in names and any(n.startswith("INSERT") for n in names):
                break
            time.sleep(0.2)
        with state.lock:
            spans = list(state.spans)
        register_traces = {t for t, name, _ in spans if name == "POST /api/v1/auth/register"}
        assert len(register_traces) == 1, [n for _, n, _ in spans]
        (trace_id,) = register_traces
        in_trace = [name for t, name, _ in spans if t == trace_id]
        assert any(name.startswith("INSERT") for name in in_trace), in_trace  # SQL spans
        assert any(name in ("EVALSHA", "EVAL") for name in in_trace), in_trace  # Redis spans
    finally:
        exited = api.stop()
    assert exited.returncode == 0, exited.stderr[-2000:]
    logs = [json.loads(line) for line in exited.stderr.splitlines() if line.startswith("{")]
    access = [r for r in logs if r.get("route") == "/api/v1/auth/register"]
    assert access
    assert access[0]["trace_id"] == trace_id
    assert access[0]["status"] == 201


async def test_a_write_is_traced_through_the_stream_entry_into_the_worker_and_its_email(
    service_urls: ServiceUrls, collector: tuple[Collector, str]
) -> None:
    """The api request's trace goes on in the worker: the notifier's handling of the event
    (through the stream entry, or the log row the relay would read) and the send_email actor
    (through the Dramatiq message's options) are spans of the same trace."""
    state, endpoint = collector
    # A deployment of its own: no other test's worker may take the event.
    async with separate_services(service_urls, redis_db=7) as urls:
        traced = {"TASKBOARD_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        smtp = SmtpServer().start()
        api = start("api", "api-traced", urls, **traced)
        worker = start(
            "worker",
            "worker-traced",
            urls,
            TASKBOARD_SMTP_URL=smtp.url,
            TASKBOARD_SMTP_FROM="taskboard <tb@example.test>",
            TASKBOARD_EMAIL_DIGEST_SECONDS="0",
            **traced,
        )
        try:
            wait_ready([api, worker])
            async with httpx.AsyncClient(timeout=30) as http:
                owner, ada = await account(http, api, "Owner"), await account(http, api, "Ada")
                board_id = await board_with(http, api, owner, ada, name="Traced")
                task = await http.post(
                    f"{api.http}/api/v1/boards/{board_id}/tasks",
                    json={"title": "Follow me", "assignee_ids": [ada.id]},
                    headers=owner.headers,
                )
                assert task.status_code == 201, task.text

            async def names() -> list[str]:
                with state.lock:
                    return [name for _, name, _ in state.spans]

            await eventually(names, lambda seen: "send_email" in seen)
            with state.lock:
                spans = list(state.spans)
        finally:
            for pod in (api, worker):
                pod.kill()
            smtp.stop()
    created = {t for t, name, _ in spans if name == "POST /api/v1/boards/{board_id}/tasks"}
    assert len(created) == 1, [name for _, name, _ in spans]
    [trace_id] = created
    in_trace = [name for t, name, _ in spans if t == trace_id]
    # The create's SQL, sent on the driver connection (core.db.Driver), is traced too: its one
    # statement calls taskboard_create_task (lock, checks, task, seq and event).
    statements = [attrs.get("db.statement", "") for t, _, attrs in spans if t == trace_id]
    assert any("taskboard_create_task" in s for s in statements), in_trace
    assert "notify task.created" in in_trace, in_trace
    assert "send_email" in in_trace, in_trace
    [notify] = [attrs for t, name, attrs in spans if name == "notify task.created"]
    assert f'"{board_id}"' in notify["taskboard.board_id"], notify
