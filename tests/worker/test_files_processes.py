"""File jobs through real processes, on a database and Redis of their own and a local store:
the worker pod makes thumbnails of what the api pod stored, and an api pod killed in the
middle of uploads leaves no row without its object, while the collector then removes what it
left and never an object a row references."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from taskboard.attachments.models import Attachment
from taskboard.core.db import utcnow
from taskboard.core.runtime import close_resources, open_resources
from taskboard.storage import open_storage
from taskboard.worker import files
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls, separate_services
from tests.helpers import eventually
from tests.realtime.cluster import Account, Pod, account, board_with, start, wait_ready
from tests.worker.files_helpers import decoded, files_under, png, upload

API = "/api/v1"


@dataclass
class FilePods:
    urls: ServiceUrls
    root: Path
    api: Pod
    worker: Pod

    @property
    def env(self) -> dict[str, str]:
        return {"TASKBOARD_STORAGE_URL": self.root.as_uri()}


@pytest.fixture(scope="module")
async def pods(
    service_urls: ServiceUrls, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FilePods]:
    # A deployment of its own: the other tests' workers have no file storage, and would take
    # these events and jobs.
    root = tmp_path_factory.mktemp("pod-files") / "files"
    async with separate_services(service_urls, redis_db=5) as urls:
        env = {"TASKBOARD_STORAGE_URL": root.as_uri()}
        api = start("api", "api-files", urls, **env)
        worker = start("worker", "worker-files", urls, **env)
        try:
            wait_ready([api, worker])
            yield FilePods(urls, root, api, worker)
        finally:
            for pod in (api, worker):
                pod.kill()


async def _task(http: httpx.AsyncClient, api: Pod, owner: Account) -> tuple[str, str]:
    board_id = await board_with(http, api, owner, name="Files")
    made = await http.post(
        f"{api.http}{API}/boards/{board_id}/tasks", json={"title": "T"}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    return board_id, str(made.json()["id"])


async def _thumbnailed(
    http: httpx.AsyncClient, api: Pod, owner: Account, attachment_id: str
) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        got = await http.get(f"{api.http}{API}/attachments/{attachment_id}", headers=owner.headers)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    return await eventually(get, lambda body: body["has_thumbnail"], timeout=60)


async def test_the_worker_makes_the_thumbnail_of_an_uploaded_image(pods: FilePods) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        owner = await account(http, pods.api, "Owner")
        board_id, task_id = await _task(http, pods.api, owner)
        made = await upload(http, pods.api.http, owner.headers, task_id, "photo.png", png())
        attachment = await _thumbnailed(http, pods.api, owner, str(made["id"]))
        assert attachment["has_thumbnail"] is True
        thumb = await http.get(
            f"{pods.api.http}{API}/attachments/{made['id']}/thumbnail", headers=owner.headers
        )
        assert thumb.status_code == 200
        picture = decoded(thumb.content)
        assert picture.format == "WEBP"
        assert max(picture.size) <= 320
        log = await http.get(
            f"{pods.api.http}{API}/boards/{board_id}/events", headers=owner.headers
        )
        updated = [e for e in log.json()["items"] if e["type"] == "attachment.updated"]
        assert [e["data"]["id"] for e in updated] == [made["id"]]
        metrics = (await http.get(f"{pods.worker.http}/metrics")).text
    assert 'taskboard_thumbnails_total{outcome="made"} 1.0' in metrics


async def _body(first: int, rest: int, go_on: asyncio.Event) -> AsyncIterator[bytes]:
    """`first` bytes at once (past 1 MiB: the store begins a multipart upload, its staging
    file appears), then, once `go_on` is set, `rest` more."""
    piece = b"p" * 65_536
    for _ in range(first // len(piece)):
        yield piece
    await go_on.wait()
    for _ in range(rest // len(piece)):
        yield piece


async def test_a_pod_killed_mid_upload_leaves_no_row_without_its_object_and_nothing_referenced_is_collected(  # noqa: E501
    pods: FilePods,
) -> None:
    api = start("api", "api-files-killed", pods.urls, **pods.env)
    wait_ready([api])
    settings = make_settings(pods.urls, storage_url=pods.root.as_uri())
    resources = open_resources(settings)
    storage = open_storage(settings)
    lock: asyncpg.Connection | None = None
    uploads: list[asyncio.Task[httpx.Response]] = []
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            owner = await account(http, api, "Owner")
            board_id, task_id = await _task(http, api, owner)
            base = f"boards/{board_id}/tasks/{task_id}"
            task_dir = pods.root / base
            # Files recorded before the kill, two of them images the worker makes
            # thumbnails of: objects rows reference.
            recorded = [
                await upload(http, api.http, owner.headers, task_id, name, body)
                for name, body in (("a.png", png()), ("b.png", png((300, 900))), ("c.txt", b"c"))
            ]
            for each in recorded[:2]:
                await _thumbnailed(http, api, owner, str(each["id"]))

            def staging() -> set[str]:
                return {p.name for p in task_dir.glob("*#*")}

            def send(go_on: asyncio.Event, rest: int) -> asyncio.Task[httpx.Response]:
                task = asyncio.create_task(
                    http.post(
                        f"{api.http}{API}/tasks/{task_id}/attachments",
                        params={"filename": "big.bin"},
                        content=_body(2 << 20, rest, go_on),
                        headers={**owner.headers, "Content-Type": "application/octet-stream"},
                    )
                )
                uploads.append(task)
                return task

            async def appeared(probe: Any, what: str) -> Any:
                found = await eventually(probe, bool, timeout=60, every=0.05)
                assert found, f"{what} never appeared"
                return found

            async def staged() -> set[str]:
                return staging()

            # Upload A streams until the store holds it; its record must then wait for the
            # board's lock, which the test holds: the pod dies between storing and recording.
            finish_a = asyncio.Event()
            send(finish_a, 256 << 10)
            [staging_a] = await appeared(staged, "upload A's staging file")
            key_a = f"{base}/{staging_a.split('#')[0]}"
            # Upload B is mid-stream when the pod dies.
            send(asyncio.Event(), 1 << 20)

            async def staged_b() -> set[str]:
                return staging() - {staging_a}

            await appeared(staged_b, "upload B's staging file")
            lock = await asyncpg.connect(pods.urls.database_url)
            await lock.execute("BEGIN")
            await lock.execute(
                "SELECT id FROM boards WHERE id = $1 FOR NO KEY UPDATE", uuid.UUID(board_id)
            )
            finish_a.set()

            async def stored_a() -> bool:
                return (pods.root / key_a).is_file()

            await appeared(stored_a, "upload A's object")
            api.kill()  # SIGKILL, the whole pod
            await lock.execute("ROLLBACK")
            # Their clients are left waiting (B's body never ends): they are dropped.
            for task in uploads:
                task.cancel()
            await asyncio.gather(*uploads, return_exceptions=True)

        async def rows(board: str | None = None) -> dict[str, tuple[str, str | None]]:
            """Attachment rows (of one board, or all), as id: (file key, thumbnail key)."""
            query = select(Attachment.id, Attachment.storage_key, Attachment.thumbnail_key)
            if board is not None:
                query = query.where(Attachment.board_id == uuid.UUID(board))
            async with resources.sessionmaker() as session:
                result = await session.execute(query)
                return {str(r[0]): (r[1], r[2]) for r in result.all()}

        def referenced(found: dict[str, tuple[str, str | None]]) -> set[str]:
            return {key for pair in found.values() for key in pair if key is not None}

        # No row lacks its object: the killed uploads recorded nothing.
        found = await rows(board_id)
        assert set(found) == {str(each["id"]) for each in recorded}
        assert len(referenced(found)) == 5  # three files, two thumbnails
        assert referenced(await rows()) <= files_under(pods.root)  # every row, every board
        assert key_a not in referenced(found)  # stored, never recorded: an orphan
        left = files_under(pods.root) - referenced(found)
        assert key_a in left
        assert any("#" in key for key in left)  # upload B's staging file

        # Within the grace the orphan may still be an upload about to record it: kept.
        now = utcnow()
        grace = timedelta(hours=1)
        early = await files.collect(
            resources, storage, now=now, grace=grace, retention=timedelta(days=30)
        )
        assert early.orphans == 0
        assert early.partials == 0
        assert (pods.root / key_a).is_file()
        # Two hours later (time injected, not slept): collected, and nothing referenced is.
        later = await files.collect(
            resources,
            storage,
            now=now + timedelta(hours=2),
            grace=grace,
            retention=timedelta(days=30),
        )
        assert later.orphans == 1
        assert later.partials == 1
        assert files_under(pods.root) >= referenced(await rows())
        assert not (pods.root / key_a).exists()
        assert not [key for key in files_under(pods.root) if key.startswith(base) and "#" in key]
        assert {k for k in files_under(pods.root) if k.startswith(base)} == referenced(found)
    finally:
        for task in uploads:
            task.cancel()
        if lock is not None:
            await lock.close()
        api.kill()
        await storage.aclose()
        await close_resources(resources)
