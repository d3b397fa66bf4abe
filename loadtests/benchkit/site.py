"""`taskboard up --ephemeral` on a free port for a script (a benchmark, the screenshots): the
whole system on one port, the built web client at /, stopped when the block ends."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from taskboard.embedded.processes import ManagedProcess, free_port, http_ok, taskboard_command

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    # A closed network: without these Chromium keeps dialling Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def running_site(*, log: Path | None = None, **env: str) -> Iterator[str]:
    """Its URL; `env` adds settings (fast password hashing and no login limit are set), `log`
    keeps the server's output there (a temp dir otherwise)."""
    with running_site_process(log=log, **env) as (url, _):
        yield url


@contextmanager
def running_site_process(*, log: Path | None = None, **env: str) -> Iterator[tuple[str, int]]:
    """Its URL and the process id of `taskboard up` (the api, socket and worker in one)."""
    port = free_port()
    log = log or Path(tempfile.mkdtemp(prefix="taskboard-site-")) / "server.log"
    server = ManagedProcess(
        taskboard_command("up", "--ephemeral", "--port", str(port)),
        name="taskboard up",
        env={
            **os.environ,
            "TASKBOARD_PASSWORD_HASH_TIME_COST": "1",
            "TASKBOARD_LOG_LEVEL": "WARNING",
            "TASKBOARD_RATE_LIMIT_AUTH_PER_IP": "100000",
            **env,
        },
        stdout=log,
        stderr=log,
        ready=http_ok(f"http://127.0.0.1:{port}/readyz"),
        ready_timeout=120,
    )
    with server:
        assert server.pid is not None
        yield f"http://127.0.0.1:{port}", server.pid
