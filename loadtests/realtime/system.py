"""The system under test: embedded PostgreSQL and Redis in a temp dir, migrations, then
`taskboard api`, `taskboard realtime` and `taskboard relay` as real processes."""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from taskboard.embedded.processes import (
    ManagedProcess,
    free_port,
    http_ok,
    stop_all,
    taskboard_command,
    wait_all_ready,
)
from taskboard.embedded.servers import EmbeddedPostgres, EmbeddedRedis


@dataclass
class System:
    env: dict[str, str]
    api: str
    realtime_ws: str
    realtime_pid: int
    processes: list[ManagedProcess] = field(default_factory=list)
    # The stores' server processes (their CPU and memory are read from /proc).
    postgres_pid: int = -1
    redis_pid: int = -1


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@contextlib.contextmanager
def system(
    api_workers: int,
    *,
    kinds: tuple[str, ...] = ("api", "realtime", "relay"),
    extra_env: dict[str, str] | None = None,
) -> Iterator[System]:
    """PostgreSQL, Redis, migrations, then `taskboard api`, `realtime` and `relay` (or the
    deployments `kinds` names; output discarded; they inherit the file limit main() raised)
    until every /readyz answers."""
    base = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    pg = EmbeddedPostgres(base / "pg", durable=False)  # throwaway data; fan-out is measured
    redis = EmbeddedRedis(base / "redis", persistent=False)
    procs: list[ManagedProcess] = []
    try:
        pg.start()
        redis.start()
        env = {
            **os.environ,
            "TASKBOARD_DATABASE_URL": pg.url,
            "TASKBOARD_REDIS_URL": redis.url,
            "TASKBOARD_SECRET_KEY": secrets.token_urlsafe(48),
            "TASKBOARD_WEB_CONCURRENCY": str(api_workers),
            "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
            "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "1000000",
            "TASKBOARD_LOG_LEVEL": "WARNING",
            "TASKBOARD_METRICS_PORT": "0",
            "TASKBOARD_DB_POOL_SIZE": "20",
            "TASKBOARD_WS_SEND_QUEUE_SIZE": "5000",
            # Every socket is the one benchmark account's: lift the per-user socket cap.
            "TASKBOARD_WS_MAX_SOCKETS_PER_USER": "1000000",
            **(extra_env or {}),
        }
        subprocess.run(taskboard_command("migrate"), env=env, check=True)
        ports = {kind: free_port() for kind in kinds}
        procs = [
            ManagedProcess(
                taskboard_command(kind, "--port", str(port)),
                name=kind,
                env=env,
                ready=http_ok(f"http://127.0.0.1:{port}/readyz"),
                ready_timeout=90,
            )
            for kind, port in ports.items()
        ]
        for proc in procs:
            proc.start()
        wait_all_ready(procs)
        yield System(
            env=env,
            api=f"http://127.0.0.1:{ports['api']}",
            realtime_ws=f"ws://127.0.0.1:{ports['realtime']}/ws",
            realtime_pid=procs[list(ports).index("realtime")].pid,
            processes=procs,
            postgres_pid=int((pg.data_dir / "cluster" / "postmaster.pid").read_text().split()[0]),
            redis_pid=redis._process.pid if redis._process else -1,
        )
    finally:
        stop_all(procs, timeout=30)
        redis.stop()
        pg.stop(remove_data=True)
        shutil.rmtree(base, ignore_errors=True)
