"""Real stores for the storage tests: a local directory, and an S3 API served by moto in this
process (ThreadedMotoServer on a free port; the S3 API is an outside edge)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from taskboard.core.config import Settings
from taskboard.storage import Storage, open_storage

BUCKET = "taskboard-test"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"


def storage_settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "database_url": "postgresql://u@127.0.0.1:1/db",
        "redis_url": "redis://127.0.0.1:1/0",
        "secret_key": "s" * 40,
    }
    return Settings(_env_file=None, **{**base, **values})  # type: ignore[call-arg]


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    client: Any  # boto3's S3 client, to look behind obstore's back

    def settings(self, prefix: str, **values: Any) -> Settings:
        return storage_settings(
            storage_url=f"s3://{BUCKET}/{prefix}",
            storage_s3_endpoint=self.endpoint,
            storage_s3_region=REGION,
            storage_s3_access_key_id=ACCESS_KEY_ID,
            storage_s3_secret_access_key=SECRET_ACCESS_KEY,
            **values,
        )

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    def multipart_uploads(self, prefix: str = "") -> list[str]:
        listed = self.client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for item in listed.get("Uploads", [])]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        yield S3Server(endpoint=endpoint, client=client)
    finally:
        server.stop()


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
