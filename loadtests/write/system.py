"""The system under test: embedded PostgreSQL and Redis in a temp dir, and `taskboard api` as
a real gunicorn server (production settings, WARNING logs, no OTLP endpoint)."""

from __future__ import annotations

import os
import secrets
import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path

from benchkit.host import proc_table
from taskboard.embedded.processes import ManagedProcess, free_port, http_ok, taskboard_command
from taskboard.embedded.servers import EmbeddedPostgres, EmbeddedRedis


@dataclass
class System:
    tmp: Path
    workers: int
    durable: bool = False  # fsync off by default: the raw baseline; --durable measures the cost
    pg: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    api: ManagedProcess | None = None
    base_url: str = ""
    others: list[ManagedProcess] = field(default_factory=list)  # more api servers (A/B runs)

    def start_stores(self) -> None:
        self.pg = EmbeddedPostgres(self.tmp / "postgres", durable=self.durable)
        self.pg.start()
        self.redis = EmbeddedRedis(self.tmp / "redis", persistent=False)
        self.redis.start()

    def start_api(self) -> None:
        self.api, self.base_url = self._start_server("api")

    def start_api_server(
        self, label: str, *, pythonpath: str | None = None
    ) -> tuple[ManagedProcess, str]:
        """Another `taskboard api` on the same stores, with its own port, log and metrics
        folder; `pythonpath` puts another copy of the code first (the baseline of an A/B run).
        Stopped with the system."""
        server, base_url = self._start_server(label, pythonpath)
        self.others.append(server)
        return server, base_url

    def _start_server(
        self, label: str, pythonpath: str | None = None
    ) -> tuple[ManagedProcess, str]:
        assert self.pg is not None
        assert self.redis is not None
        port = free_port()
        metrics_dir = self.tmp / f"metrics-{label}"
        metrics_dir.mkdir()
        env = {
            **os.environ,
            "TASKBOARD_DATABASE_URL": self.pg.url,
            "TASKBOARD_REDIS_URL": self.redis.url,
            "TASKBOARD_SECRET_KEY": "".join(
                secrets.choice(string.ascii_letters + string.digits) for _ in range(48)
            ),
            "TASKBOARD_ENV": "production",
            "TASKBOARD_WEB_CONCURRENCY": str(self.workers),
            "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
            "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "100000",
            "TASKBOARD_LOG_LEVEL": "WARNING",
            "TASKBOARD_METRICS_PORT": "0",
            "TASKBOARD_GRACEFUL_TIMEOUT_SECONDS": "5",
            "TASKBOARD_SECRETS_DIR": str(self.tmp / "no-secrets"),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        if pythonpath is not None:
            env["PYTHONPATH"] = pythonpath
        base_url = f"http://127.0.0.1:{port}"
        log = self.tmp / f"{label}.log"
        server = ManagedProcess(
            taskboard_command("api", "--host", "127.0.0.1", "--port", str(port)),
            name=f"the API ({label})",
            env=env,
            cwd=self.tmp,  # no stray .env is picked up
            stdout=log,
            stderr=log,
            ready=http_ok(f"{base_url}/readyz", timeout=5),
            ready_timeout=60,
            stop_timeout=20,  # gunicorn drains and stops its workers; then SIGKILL the group
        ).start()
        return server, base_url

    def wait_ready(self) -> None:
        for server in (self.api, *self.others):
            if server is not None:
                server.wait_ready()

    def worker_pids(self, server: ManagedProcess | None = None) -> list[int]:
        """The gunicorn workers of `server` (of the first api when None)."""
        server = server or self.api
        assert server is not None
        return [pid for pid, (ppid, _, _) in proc_table().items() if ppid == server.pid]

    def postmaster_pid(self) -> int:
        assert self.pg is not None
        return int((self.pg.data_dir / "cluster" / "postmaster.pid").read_text().split()[0])

    def tail(self, chars: int = 3000) -> str:
        return "\n".join(
            s.output_tail(chars) for s in (self.api, *self.others) if s is not None and s.started
        )

    def stop(self) -> None:
        for server in (*self.others, self.api):
            if server is not None and server.started:
                server.stop()
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.stop()
            if not self.pg.data_dir.is_relative_to(self.tmp):
                # As root the cluster lives elsewhere (see EmbeddedPostgres); remove it too.
                shutil.rmtree(self.pg.data_dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
