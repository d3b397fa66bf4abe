"""What an upload killed with its process leaves: never a listed object; on local disks a
staging file that remove_stale_partials() collects (S3 needs a lifecycle rule instead)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from tests.fixtures.s3 import BUCKET, S3Server
from tests.storage.conftest import Backend

CHILD = """
import asyncio, os, sys
from taskboard.core.config import Settings
from taskboard.storage import open_storage

async def main():
    storage = open_storage(Settings(_env_file=None))

    async def source():
        for _ in range(48):
            yield b"z" * (256 * 1024)  # 12 MiB: two 5 MiB parts are written
        print("READY", flush=True)
        await asyncio.Event().wait()  # the client stalls; then the process is killed
        yield b""

    await storage.put_stream("boards/b/killed", source(), max_bytes=1 << 30)

asyncio.run(main())
"""


def run_until_killed(env: dict[str, str], ready: Path | None) -> None:
    """Start an upload in a child process and SIGKILL it mid-way (once `ready` exists, if
    given: the staging file on disk)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "READY", child.stderr.read() if child.stderr else ""
        deadline = time.monotonic() + 60
        while ready is not None and not any(ready.rglob("killed#*")):
            assert time.monotonic() < deadline, "the staging file never appeared"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def base_env() -> dict[str, str]:
    return {
        "TASKBOARD_ENV": "test",
        "TASKBOARD_DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
        "TASKBOARD_REDIS_URL": "redis://127.0.0.1:1/0",
        "TASKBOARD_SECRET_KEY": "s" * 40,
        "TASKBOARD_SECRETS_DIR": "/nonexistent",
    }


async def test_a_killed_local_upload_is_never_listed_and_is_collected(
    local_backend: Backend,
) -> None:
    assert local_backend.root is not None
    env = {**base_env(), "TASKBOARD_STORAGE_URL": local_backend.root.as_uri()}
    run_until_killed(env, ready=local_backend.root)

    storage = local_backend.storage
    assert [info async for info in storage.list()] == []
    assert not await storage.exists("boards/b/killed")
    leftovers = local_backend.stored_keys()
    assert len(leftovers) == 1
    assert leftovers[0].startswith("boards/b/killed#")
    assert await storage.remove_stale_partials(timedelta(hours=1)) == 0  # too young
    assert await storage.remove_stale_partials(timedelta(0)) == 1
    assert local_backend.stored_keys() == []


async def test_a_killed_s3_upload_is_never_an_object(s3_server: S3Server) -> None:
    settings = s3_server.settings("killed")
    env = {
        **base_env(),
        "TASKBOARD_STORAGE_URL": str(settings.storage_url),
        "TASKBOARD_STORAGE_S3_ENDPOINT": s3_server.endpoint,
        "TASKBOARD_STORAGE_S3_REGION": settings.storage_s3_region,
        "TASKBOARD_STORAGE_S3_ACCESS_KEY_ID": str(settings.storage_s3_access_key_id),
        "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY": "unused-by-moto",
    }
    run_until_killed(env, ready=None)
    assert s3_server.keys("killed/") == []
    # The parts already sent wait in an incomplete multipart upload, out of every listing:
    # the bucket's AbortIncompleteMultipartUpload lifecycle rule removes them.
    assert s3_server.multipart_uploads("killed/") == ["killed/boards/b/killed"]
    uploads = s3_server.client.list_multipart_uploads(Bucket=BUCKET, Prefix="killed/")
    s3_server.client.abort_multipart_upload(
        Bucket=BUCKET, Key="killed/boards/b/killed", UploadId=uploads["Uploads"][0]["UploadId"]
    )


async def test_stale_staging_files_are_removed_and_nothing_else(local_backend: Backend) -> None:
    root = local_backend.root
    assert root is not None
    storage = local_backend.storage

    async def one(data: bytes) -> AsyncIterator[bytes]:
        yield data

    await storage.put_stream("boards/b/kept", one(b"kept"), max_bytes=10)
    old = time.time() - 7200
    for name, mtime in (
        ("boards/b/old#3", old),
        ("boards/b/new#1", None),
        ("boards/b/name#with-a-hash", old),
    ):
        path = root / name
        path.write_bytes(b"partial")
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    listed = [info.key async for info in storage.list()]
    assert "boards/b/kept" in listed
    assert "boards/b/old#3" not in listed  # staging files are never objects
    assert "boards/b/new#1" not in listed
    assert await storage.remove_stale_partials(timedelta(hours=1)) == 1
    assert local_backend.stored_keys() == [
        "boards/b/kept",
        "boards/b/name#with-a-hash",
        "boards/b/new#1",
    ]
