"""Real stores for the storage tests: a local directory, and an S3 API served by moto in this
process (ThreadedMotoServer on a free port; the S3 API is an outside edge)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskboard.storage import Storage, open_storage
from tests.fixtures.s3 import S3Server, storage_settings


@dataclass
class Backend:
    """A store under test and a way to see what it really holds."""

    storage: Storage
    kind: str
    root: Path | None = None  # local
    s3: S3Server | None = None
    prefix: str = ""  # s3: this test's prefix in the bucket

    def stored_keys(self) -> list[str]:
        """Every object, by key, seen without obstore (files on disk, boto3's listing)."""
        if self.root is not None:
            return sorted(
                str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file()
            )
        assert self.s3 is not None
        return sorted(k.removeprefix(f"{self.prefix}/") for k in self.s3.keys(f"{self.prefix}/"))

    def pending_uploads(self) -> list[str]:
        """Multipart uploads begun and neither completed nor aborted (S3 only)."""
        if self.s3 is None:
            return []
        return self.s3.multipart_uploads(f"{self.prefix}/")


@pytest.fixture
async def local_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    root = tmp_path / "files"
    storage = open_storage(storage_settings(storage_url=root.as_uri()))
    yield Backend(storage=storage, kind="local", root=root)
    await storage.aclose()


@pytest.fixture
async def s3_backend(s3_server: S3Server) -> AsyncIterator[Backend]:
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    storage = open_storage(s3_server.settings(prefix))
    yield Backend(storage=storage, kind="s3", s3=s3_server, prefix=prefix)
    await storage.aclose()


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"{request.param}_backend")  # type: ignore[no-any-return]
