"""A first run that just works: `up` says where it is only once it listens, honours
TASKBOARD_PORT, says what to do about a busy port, and `taskboard api` logs only JSON and
leaves nothing in /tmp."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import httpx
import pytest

from taskboard.embedded.processes import ManagedProcess, free_port, http_ok, taskboard_command
from tests.conftest import TEST_SECRET
from tests.fixtures.services import ServiceUrls
from tests.test_cli import Up, clean_env, run_cli


def test_a_busy_port_is_named_with_the_way_out_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            tmp_path,
            "up",
            "--data-dir",
            "state",
            env=clean_env(tmp_path, TASKBOARD_PORT=str(port)),
        )
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr, result.stderr
    assert "--port" in result.stderr
    assert "TASKBOARD_PORT" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "state").exists()  # refused before starting any server


def test_up_listens_on_taskboard_port_and_announces_itself_once_listening(
    tmp_path: Path,
) -> None:
    port = free_port()
    up = ManagedProcess(
        taskboard_command("up", "--ephemeral"),
        name="`up`",
        env=clean_env(tmp_path, TASKBOARD_PORT=str(port), TASKBOARD_RATE_LIMIT_AUTH_PER_IP="2"),
        cwd=tmp_path,
        stdout=tmp_path / "up.stdout",
        stderr=tmp_path / "up.stderr",
        ready=lambda: "taskboard is up" in (tmp_path / "up.stdout").read_text(),
        ready_timeout=90,
        poll_interval=0.05,
    ).start()
    try:
        up.wait_ready()
        # The banner came after the socket listened: this connection cannot be refused.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert f"http://127.0.0.1:{port}/api/v1" in up.stdout_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            index = http.get("/api/v1")  # the URL the banner prints answers
            assert index.status_code == 200, index.text
            assert index.json()["docs"] == "/api/docs"
            assert "server" not in index.headers  # no banner naming the server software
            assert index.headers["x-content-type-options"] == "nosniff"
            # No proxy is configured, so X-Forwarded-For is not believed: a client cannot
            # name itself someone else to walk past the per-address limit.
            statuses = [
                http.post(
                    "/api/v1/auth/register",
                    json={
                        "email": f"x{i}@example.com",
                        "password": "long enough",
                        "display_name": "X",
                    },
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                ).status_code
                for i in range(3)
            ]
            assert statuses == [201, 201, 429]
    finally:
        exited = up.stop(sig=signal.SIGTERM)
    assert exited.returncode == 0, exited.stderr[-2000:]


def test_api_logs_only_json_and_removes_its_metrics_dir(
    tmp_path: Path, service_urls: ServiceUrls
) -> None:
    port, metrics_port = free_port(), free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = clean_env(
        tmp_path,
        TASKBOARD_DATABASE_URL=service_urls.database_url,
        TASKBOARD_REDIS_URL=service_urls.redis_url,
        TASKBOARD_SECRET_KEY=TEST_SECRET,
        TASKBOARD_WEB_CONCURRENCY="2",
        TASKBOARD_METRICS_PORT=str(metrics_port),
        TMPDIR=str(scratch),
    )
    api = ManagedProcess(
        taskboard_command("api", "--host", "127.0.0.1", "--port", str(port)),
        name="`taskboard api`",
        env=env,
        cwd=tmp_path,
        stdout=tmp_path / "api.out",
        stderr=tmp_path / "api.out",
        ready=http_ok(f"http://127.0.0.1:{port}/healthz"),
        ready_timeout=90,
    ).start()
    try:
        api.wait_ready()
        assert [p.name for p in scratch.iterdir() if p.name.startswith("taskboard-metrics-")]
        # /metrics only on its own port, merging both workers' figures; not on the public one.
        public = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert public.status_code == 404
        for _ in range(4):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert "taskboard_http_requests_total{" in scraped.text
    finally:
        exited = api.stop(sig=signal.SIGTERM)
    assert exited.returncode == 0, exited.stdout[-2000:]
    lines = [line for line in exited.stdout.splitlines() if line.strip()]
    assert any("gunicorn" in line for line in lines), lines[:5]  # its own lines are there...
    for line in lines:
        record = json.loads(line)  # ...and every line is one JSON object
        assert {"ts", "level", "message"} <= set(record), line
    assert not [p for p in scratch.iterdir() if p.name.startswith("taskboard-metrics-")]


def test_embedded_servers_want_their_generated_passwords(service_urls: ServiceUrls) -> None:
    """Any local user could connect as superuser and forge events into the streams before."""
    import asyncio
    from urllib.parse import urlsplit

    import asyncpg
    from redis import Redis
    from redis.exceptions import AuthenticationError, ResponseError

    pg = urlsplit(service_urls.database_url)
    assert pg.password, "the embedded PostgreSQL URL carries a password"

    async def connect(password: str | None) -> None:
        connection = await asyncpg.connect(
            host=pg.hostname,
            port=pg.port,
            user=pg.username,
            password=password,
            database=pg.path.lstrip("/"),
        )
        await connection.close()

    for wrong in (None, "guess"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(connect(wrong))
    asyncio.run(connect(pg.password))

    redis_url = urlsplit(service_urls.redis_url)
    assert redis_url.password
    anonymous = Redis(host=redis_url.hostname, port=redis_url.port)
    try:
        with pytest.raises((AuthenticationError, ResponseError), match=r"(?i)auth"):
            anonymous.xadd("tb:events:0", {"e": b"forged"})
    finally:
        anonymous.close()
    assert Redis.from_url(service_urls.redis_url).ping()


def test_rotate_epochs_gives_every_board_a_new_history(
    tmp_path: Path, service_urls: ServiceUrls
) -> None:
    import asyncio

    import asyncpg

    async def epochs() -> dict[str, str]:
        connection = await asyncpg.connect(service_urls.database_url)
        try:
            rows = await connection.fetch("SELECT id::text, epoch FROM boards")
            return {row[0]: row[1] for row in rows}
        finally:
            await connection.close()

    async def execute(sql: str, *args: str) -> None:
        connection = await asyncpg.connect(service_urls.database_url)
        try:
            await connection.execute(sql, *args)
        finally:
            await connection.close()

    board = "00000000-0000-4000-8000-00000000e0c0"
    asyncio.run(execute("INSERT INTO boards (id, name, epoch) VALUES ($1, 'E', 'before')", board))
    before = asyncio.run(epochs())
    result = run_cli(
        tmp_path,
        "rotate-epochs",
        env=clean_env(tmp_path, TASKBOARD_DATABASE_URL=service_urls.database_url),
    )
    assert result.returncode == 0, result.stderr
    after = asyncio.run(epochs())
    assert set(after) == set(before)
    assert all(after[b] != before[b] for b in before)
    asyncio.run(execute("DELETE FROM boards WHERE id = $1", board))


def test_site_role_makes_an_account_a_site_admin_by_its_email(
    tmp_path: Path, service_urls: ServiceUrls
) -> None:
    import asyncio

    import asyncpg

    async def query(sql: str, *args: str) -> str | None:
        connection = await asyncpg.connect(service_urls.database_url)
        try:
            value: str | None = await connection.fetchval(sql, *args)
            return value
        finally:
            await connection.close()

    user = "00000000-0000-4000-8000-00000000ad01"
    asyncio.run(
        query(
            "INSERT INTO users (id, email, email_key, display_name) "
            "VALUES ($1, 'Grace@Example.com', 'grace@example.com', 'G')",
            user,
        )
    )
    env = clean_env(tmp_path, TASKBOARD_DATABASE_URL=service_urls.database_url)
    try:
        made = run_cli(tmp_path, "site-role", "GRACE@example.com", "admin", env=env)
        assert made.returncode == 0, made.stderr
        assert asyncio.run(query("SELECT site_role FROM users WHERE id = $1", user)) == "admin"
        missing = run_cli(tmp_path, "site-role", "nobody@example.com", "admin", env=env)
        assert missing.returncode == 2
        assert "nobody@example.com" in missing.stderr
        assert "Traceback" not in missing.stderr
    finally:
        asyncio.run(query("DELETE FROM users WHERE id = $1", user))


def test_ctrl_c_stops_everything_quietly(tmp_path: Path) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group. The embedded servers
    have groups of their own, so only `up` gets it and stops them in order: no server dies
    under the app, no warnings follow, nothing is left running."""
    up = Up(tmp_path)  # --ephemeral, its own session, ready once /readyz answers
    try:
        up.wait_ready()
        os.killpg(up.process.pid, signal.SIGINT)  # what the terminal does: the whole group
        status = up.process.wait(timeout=60)
    finally:
        up.server.kill()
    stderr = up.server.stderr_text()
    assert status == 0, stderr[-3000:]
    noisy = [
        line
        for line in stderr.splitlines()
        if line.startswith("{") and json.loads(line)["level"] in ("WARNING", "ERROR", "CRITICAL")
    ]
    assert noisy == [], noisy[:5]
    assert "Traceback" not in stderr
