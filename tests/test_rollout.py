"""What the chart's rollout promises, with real processes: a pod's init container
(`taskboard migrate --wait`) holds the pod until the migration it needs has run, and pods of
the release before keep serving, and stay ready, while a newer release migrates under them."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from taskboard.core.config import asyncpg_url
from taskboard.core.migrations import MIGRATIONS_DIR, head_revision, schema_state
from taskboard.embedded.processes import taskboard_command
from tests.fixtures.services import ServiceUrls, fresh_database, migrate, separate_services
from tests.realtime.cluster import account, base_env, board_with, start, wait_ready

API = "/api/v1"


def _cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        taskboard_command(*args), env=env, capture_output=True, text=True, timeout=timeout
    )


def _secret_file_env(urls: ServiceUrls, database_url: str, secrets: Path) -> dict[str, str]:
    """The database URL only as Kubernetes mounts a Secret: a file in TASKBOARD_SECRETS_DIR."""
    secrets.mkdir(exist_ok=True)
    (secrets / "TASKBOARD_DATABASE_URL").write_text(database_url)
    env = base_env(urls, TASKBOARD_SECRETS_DIR=str(secrets))
    del env["TASKBOARD_DATABASE_URL"]
    return env


def test_libpq_sslmode_in_the_url_is_understood(service_urls: ServiceUrls) -> None:
    """Managed databases hand out URLs with libpq's `sslmode`; asyncpg calls it `ssl`."""
    assert asyncpg_url("postgresql://u:p@db:5432/tb?sslmode=require&application_name=x") == (
        "postgresql+asyncpg://u:p@db:5432/tb?ssl=require&application_name=x"
    )
    env = base_env(service_urls)
    env["TASKBOARD_DATABASE_URL"] = f"{service_urls.database_url}?sslmode=disable"
    waited = _cli("migrate", "--wait", "--timeout", "20", env=env)
    assert waited.returncode == 0, waited.stderr


def test_schema_states() -> None:
    assert schema_state(head_revision()) == "current"
    assert schema_state(None) == "empty"
    assert schema_state("0001") == "behind"  # the first migration: this code knows it
    assert schema_state("f00dfeedbeef") == "ahead"  # a newer release's revision


async def test_migrate_wait_holds_a_pod_until_the_migration_has_run(
    service_urls: ServiceUrls, tmp_path: Path
) -> None:
    async with fresh_database(service_urls) as database_url:
        env = _secret_file_env(service_urls, database_url, tmp_path / "secrets")

        gave_up = await asyncio.to_thread(_cli, "migrate", "--wait", "--timeout", "1", env=env)
        assert gave_up.returncode == 2, gave_up.stderr
        assert str(head_revision()) in gave_up.stderr
        assert "Traceback" not in gave_up.stderr
        assert "waiting for the schema" in gave_up.stderr  # the pod's log says why it waits

        waiter = await asyncio.create_subprocess_exec(
            *taskboard_command("migrate", "--wait"),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            # An empty schema never satisfies it, however long it looks.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter.wait()), 3)
            await asyncio.to_thread(migrate, database_url)
            async with asyncio.timeout(60):
                _, err = await waiter.communicate()
            assert waiter.returncode == 0, err
        finally:
            if waiter.returncode is None:
                waiter.kill()
                await waiter.wait()
        stderr = err.decode()
        assert "schema ready" in stderr, stderr


def _newer_release(tmp_path: Path) -> Path:
    """This code's migrations plus one more, as the next release would ship them: it only
    expands the schema (a nullable column, a new table), as migrations within v1 must."""
    scripts = tmp_path / "next-release-migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "29990101_0000_next_release.py").write_text(
        f'''"""The next release's migration (expand only)."""
import sqlalchemy as sa
from alembic import op

revision = "next_release_0001"
down_revision = "{head_revision()}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("estimate_minutes", sa.Integer(), nullable=True))
    op.create_table("release_probe", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("release_probe")
    op.drop_column("tasks", "estimate_minutes")
'''
    )
    return scripts


def _migrate_with(scripts: Path, database_url: str) -> None:
    code = (
        "import sys; from alembic import command; "
        "from taskboard.core.migrations import alembic_config; "
        "cfg = alembic_config(sys.argv[1]); cfg.set_main_option('script_location', sys.argv[2]); "
        "command.upgrade(cfg, 'heads')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, database_url, str(scripts)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


async def test_old_pods_keep_serving_while_a_newer_release_migrates(
    service_urls: ServiceUrls, tmp_path: Path
) -> None:
    async with separate_services(service_urls, redis_db=8) as urls:
        api = start("api", "api-old-release", urls)
        realtime = start("realtime", "realtime-old-release", urls)
        try:
            wait_ready([api, realtime])
            async with httpx.AsyncClient(timeout=30) as http:
                owner = await account(http, api, "Old Release")
                board = await board_with(http, api, owner)
                answers: list[int] = []
                migrated = asyncio.Event()

                async def keep_writing() -> None:
                    # Writes and readiness probes, as traffic and the kubelet keep coming.
                    while True:
                        done = migrated.is_set()
                        created = await http.post(
                            f"{api.http}{API}/boards/{board}/tasks",
                            json={"title": f"during {len(answers)}"},
                            headers=owner.headers,
                        )
                        answers.append(created.status_code)
                        for pod in (api, realtime):
                            answers.append((await http.get(f"{pod.http}/readyz")).status_code)
                        if done:
                            return

                writer = asyncio.create_task(keep_writing())
                await asyncio.to_thread(_migrate_with, _newer_release(tmp_path), urls.database_url)
                migrated.set()
                await writer

                assert answers.count(201) >= 2  # at least one write before and one after
                assert set(answers) <= {200, 201}, answers
                snapshot = await http.get(f"{api.http}{API}/boards/{board}", headers=owner.headers)
                assert snapshot.status_code == 200
                assert len(snapshot.json()["tasks"]) == answers.count(201)
                ready = (await http.get(f"{api.http}/readyz")).json()
                assert ready["checks"]["postgres"] == "ok", ready

            # A pod of the old release started now is not held by its init container either.
            env = base_env(urls)
            waited = await asyncio.to_thread(_cli, "migrate", "--wait", "--timeout", "10", env=env)
            assert waited.returncode == 0, waited.stderr
            # A rollback runs the old release's pre-upgrade migration: on a schema it does not
            # know it must change nothing and succeed, or the rollback fails.
            rolled_back = await asyncio.to_thread(_cli, "migrate", env=env)
            assert rolled_back.returncode == 0, rolled_back.stderr
            assert "nothing to do" in rolled_back.stderr
        finally:
            for pod in (api, realtime):
                pod.kill()
