"""The worker's file jobs against real PostgreSQL, Redis and a local store of the test's own:
thumbnails made once, bounded and only of images; the collector removes what no row needs
once it is old enough, and never what a row references. Time is injected (file times set
back, `now` passed in), never slept."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, select, update

from taskboard.api.app import create_app
from taskboard.attachments import collection, thumbnails
from taskboard.attachments.models import Attachment
from taskboard.core.config import Settings
from taskboard.core.db import utcnow
from taskboard.core.runtime import Resources
from taskboard.core.streams import StreamEvent
from taskboard.storage import Storage, open_storage
from taskboard.worker import files
from tests.conftest import make_settings
from tests.fixtures.s3 import S3Server
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient, User
from tests.worker.files_helpers import (
    HTML,
    animated_gif,
    decoded,
    files_under,
    png,
    png_claiming,
    rotated_jpeg,
    upload,
)

HOUR = timedelta(hours=1)
RETENTION = timedelta(days=30)


@dataclass
class Files:
    api: ApiClient
    resources: Resources
    storage: Storage
    root: Path
    owner: User
    board_id: str
    task_id: str

    async def upload(self, name: str, body: bytes, task_id: str | None = None) -> dict[str, Any]:
        return await upload(
            self.api.http, "", self.owner.headers, task_id or self.task_id, name, body
        )

    async def events(self, board_id: str | None = None) -> list[dict[str, Any]]:
        got = await self.api.http.get(
            f"/api/v1/boards/{board_id or self.board_id}/events",
            params={"after": 0, "limit": 200},
            headers=self.owner.headers,
        )
        assert got.status_code == 200, got.text
        items: list[dict[str, Any]] = got.json()["items"]
        return items

    async def thumbnail(self, attachment: dict[str, Any]) -> str:
        return await files.make_thumbnail(self.resources, self.storage, uuid.UUID(attachment["id"]))

    async def row(self, attachment_id: str) -> Attachment | None:
        async with self.resources.sessionmaker() as session:
            return await session.get(Attachment, uuid.UUID(attachment_id))

    async def collect(self, *, grace: timedelta = HOUR) -> files.Collected:
        return await files.collect(
            self.resources, self.storage, now=utcnow(), grace=grace, retention=RETENTION
        )

    def age(self, seconds: float = 2 * 3600) -> None:
        """Every file in the store was written `seconds` ago."""
        then = time.time() - seconds
        for path in self.root.rglob("*"):
            if path.is_file():
                os.utime(path, (then, then))

    def stored(self) -> set[str]:
        return files_under(self.root)


@pytest.fixture
async def store(tmp_path: Path, settings: Settings, resources: Resources) -> AsyncIterator[Files]:
    """An api and the worker's parts over one local store of this test's own (the session's
    store holds other tests' objects, whose rows were rolled back)."""
    root = tmp_path / "files"
    local = settings.model_copy(update={"storage_url": root.as_uri()})
    resources.settings = local
    storage = open_storage(local)
    app = create_app(local, resources=resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        api = ApiClient(http)
        owner = await api.user("owner")
        board = await api.board(owner)
        task = await api.task(board["id"], owner, title="With files")
        yield Files(api, resources, storage, root, owner, board["id"], task["id"])
    await storage.aclose()


def _thumbnails_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("taskboard_thumbnails_total", {"outcome": outcome}) or 0.0


async def test_a_png_gets_one_thumbnail_and_one_event(store: Files) -> None:
    made = await store.upload("photo.png", png((800, 600)))
    assert made["content_type"] == "image/png"
    assert made["has_thumbnail"] is False
    [added] = [e for e in await store.events() if e["type"] == "attachment.added"]
    assert files.thumbnail_for(StreamEvent(**_stream_fields(added))) == uuid.UUID(made["id"])
    before = _thumbnails_counted("made")

    assert await store.thumbnail(made) == "made"

    assert _thumbnails_counted("made") == before + 1
    row = await store.row(made["id"])
    assert row is not None
    assert row.thumbnail_key == f"{row.storage_key}.thumb.webp"
    reader = await store.storage.open_read(row.thumbnail_key)
    picture = decoded(b"".join([chunk async for chunk in reader]))
    assert picture.format == "WEBP"
    assert picture.size == (320, 240)  # within 320x320, the aspect ratio kept
    updated = [e for e in await store.events() if e["type"] == "attachment.updated"]
    assert len(updated) == 1
    assert updated[0]["data"]["id"] == made["id"]
    assert updated[0]["data"]["has_thumbnail"] is True
    assert updated[0]["actor_id"] is None  # the system's own write
    got = await store.api.http.get(
        f"/api/v1/attachments/{made['id']}/thumbnail", headers=store.owner.headers
    )
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/webp"
    assert decoded(got.content).size == (320, 240)

    # The same job again (a redelivered event, a retried message): nothing changes.
    thumb = store.root / row.thumbnail_key
    written = (thumb.read_bytes(), thumb.stat().st_mtime_ns)
    assert await store.thumbnail(made) == "skipped"
    assert (thumb.read_bytes(), thumb.stat().st_mtime_ns) == written
    assert [e["type"] for e in await store.events()].count("attachment.updated") == 1
    assert store.stored() == {row.storage_key, row.thumbnail_key}


async def test_a_thumbnail_stored_but_never_recorded_is_made_again_over_it(store: Files) -> None:
    made = await store.upload("photo.png", png())
    row = await store.row(made["id"])
    assert row is not None
    # An earlier try stored this and died before its transaction committed.
    await store.storage.put(thumbnails.key_for(row.storage_key), b"left by a lost try")

    assert await store.thumbnail(made) == "made"

    row = await store.row(made["id"])
    assert row is not None
    assert row.thumbnail_key is not None
    assert decoded((store.root / row.thumbnail_key).read_bytes()).format == "WEBP"
    assert [e["type"] for e in await store.events()].count("attachment.updated") == 1


def test_orientation_is_applied_and_an_animation_gives_its_first_frame() -> None:
    upright = decoded(thumbnails.render(BytesIO(rotated_jpeg()), "image/jpeg", max_pixels=10**8))
    assert upright.size == (160, 320)  # stored 800x400, shown turned: 400x800, fitted
    first = decoded(thumbnails.render(BytesIO(animated_gif()), "image/gif", max_pixels=10**8))
    assert first.size == (320, 160)
    red, green, blue = first.convert("RGB").getpixel((160, 80))  # type: ignore[misc]
    assert red > 200
    assert green < 60
    assert blue < 60


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8_000, 8_000),  # 64 million: over the setting (50 million)
        (100_000, 100_000),  # ten billion: over Pillow's own ceiling too
    ],
)
async def test_a_decompression_bomb_is_refused_with_a_log_and_no_crash(
    store: Files, caplog: pytest.LogCaptureFixture, width: int, height: int
) -> None:
    bomb = await store.upload("bomb.png", png_claiming(width, height))
    assert bomb["content_type"] == "image/png"
    with caplog.at_level(logging.WARNING, logger="taskboard.files"):
        assert await store.thumbnail(bomb) == "too_many_pixels"
    [record] = [r for r in caplog.records if r.getMessage().startswith("image too large")]
    assert record.attachment_id == bomb["id"]  # type: ignore[attr-defined]
    row = await store.row(bomb["id"])
    assert row is not None
    assert row.thumbnail_key is None
    assert store.stored() == {row.storage_key}
    assert "attachment.updated" not in [e["type"] for e in await store.events()]
    # The job ends there: a retry finds the same and ends the same way.
    assert await store.thumbnail(bomb) == "too_many_pixels"


async def test_html_named_png_and_a_broken_image_get_no_thumbnail(store: Files) -> None:
    page = await store.upload("innocent.png", HTML)
    assert page["content_type"] == "text/html"
    added = [e for e in await store.events() if e["type"] == "attachment.added"]
    assert files.thumbnail_for(StreamEvent(**_stream_fields(added[0]))) is None  # not queued
    assert await store.thumbnail(page) == "skipped"  # nor made if asked

    broken = await store.upload("broken.png", png()[:200])  # a PNG cut short
    assert broken["content_type"] == "image/png"
    assert await store.thumbnail(broken) == "undecodable"
    rows = [await store.row(page["id"]), await store.row(broken["id"])]
    assert [r.thumbnail_key for r in rows if r is not None] == [None, None]
    assert not [key for key in store.stored() if key.endswith(".thumb.webp")]


async def test_a_removed_attachment_gets_no_thumbnail(store: Files) -> None:
    made = await store.upload("photo.png", png())
    removed = await store.api.http.delete(
        f"/api/v1/attachments/{made['id']}", headers=store.owner.headers
    )
    assert removed.status_code == 204
    assert await store.thumbnail(made) == "skipped"
    assert not [key for key in store.stored() if key.endswith(".thumb.webp")]


async def test_collection_removes_old_orphans_and_keeps_young_ones_and_everything_referenced(
    store: Files,
) -> None:
    photo = await store.upload("photo.png", png())
    assert await store.thumbnail(photo) == "made"
    notes = await store.upload("notes.txt", b"plain words")
    trashed = await store.upload("trashed.txt", b"removed, within the retention")
    await store.api.http.delete(f"/api/v1/attachments/{trashed['id']}", headers=store.owner.headers)
    referenced = set(store.stored())
    assert len(referenced) == 4  # three files and a thumbnail
    notes_row = await store.row(notes["id"])
    assert notes_row is not None

    async def orphan(key: str) -> None:
        await store.storage.put(key, b"nobody recorded me")

    old_orphan = f"boards/{store.board_id}/tasks/{store.task_id}/{uuid.uuid4()}"
    old_thumbnail = thumbnails.key_for(notes_row.storage_key)  # of a row that has none
    gone_board = f"boards/{uuid.uuid4()}/tasks/{uuid.uuid4()}/{uuid.uuid4()}"
    for key in (old_orphan, old_thumbnail, gone_board):
        await orphan(key)
    await orphan("exports/not-attachments")  # outside boards/: never the collector's
    staging = store.root / "boards" / "killed#7"  # a killed upload's staging file
    staging.write_bytes(b"half")
    store.age()  # all of the above was written two hours ago
    young_orphan = f"boards/{store.board_id}/tasks/{store.task_id}/{uuid.uuid4()}"
    await orphan(young_orphan)  # perhaps an upload whose row is about to commit
    fresh_staging = store.root / "boards" / "uploading#1"
    fresh_staging.write_bytes(b"in flight")
    deleted_before = REGISTRY.get_sample_value(
        "taskboard_files_deleted_total", {"reason": "orphan"}
    )

    done = await store.collect(grace=HOUR)

    assert (done.scanned, done.young, done.orphans, done.partials) == (8, 1, 3, 1)
    assert store.stored() == referenced | {
        young_orphan,
        "exports/not-attachments",
        "boards/uploading#1",
    }
    deleted_after = REGISTRY.get_sample_value("taskboard_files_deleted_total", {"reason": "orphan"})
    assert deleted_after == (deleted_before or 0) + 3
    # A second pass finds nothing more to do.
    again = await store.collect(grace=HOUR)
    assert (again.orphans, again.partials, again.purged_rows) == (0, 0, 0)


async def test_lookups_are_batched_not_one_per_object(store: Files) -> None:
    for n in range(5):
        await store.upload(f"{n}.txt", b"kept")
    for _ in range(25):
        key = f"boards/{store.board_id}/tasks/{store.task_id}/{uuid.uuid4()}"
        await store.storage.put(key, b"orphan")
    store.age()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "attachments" in statement:
            statements.append(statement)

    engine = store.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        done = await store.collect()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (done.scanned, done.orphans) == (30, 25)
    # The retention's delete, one lookup of the batch, one locked lookup of its suspects.
    assert len(statements) == 3, statements


async def test_removed_rows_past_the_retention_go_with_their_objects(store: Files) -> None:
    old = await store.upload("old.png", png())
    assert await store.thumbnail(old) == "made"
    recent = await store.upload("recent.txt", b"removed yesterday")
    live = await store.upload("live.txt", b"still attached")
    for attachment in (old, recent):
        removed = await store.api.http.delete(
            f"/api/v1/attachments/{attachment['id']}", headers=store.owner.headers
        )
        assert removed.status_code == 204
    old_row, recent_row, live_row = [await store.row(a["id"]) for a in (old, recent, live)]
    assert old_row is not None
    assert recent_row is not None
    assert live_row is not None
    async with store.resources.sessionmaker() as session, session.begin():
        for row_id, ago in ((old_row.id, timedelta(days=31)), (recent_row.id, timedelta(days=1))):
            await session.execute(
                update(Attachment).where(Attachment.id == row_id).values(deleted_at=utcnow() - ago)
            )
    purged_before = REGISTRY.get_sample_value("taskboard_attachments_purged_total") or 0.0

    done = await store.collect()

    assert (done.purged_rows, done.purged_objects, done.orphans) == (1, 2, 0)
    assert await store.row(old["id"]) is None
    assert store.stored() == {recent_row.storage_key, live_row.storage_key}
    assert REGISTRY.get_sample_value("taskboard_attachments_purged_total") == purged_before + 1


async def test_a_purge_that_died_after_its_commit_leaves_orphans_the_next_pass_takes(
    store: Files,
) -> None:
    """Rows first, then objects: a collector killed in between leaves objects without rows
    (never a row without its object), and those are old, so the next pass collects them."""
    gone = await store.upload("gone.txt", b"removed long ago")
    await store.api.http.delete(f"/api/v1/attachments/{gone['id']}", headers=store.owner.headers)
    row = await store.row(gone["id"])
    assert row is not None
    async with store.resources.sessionmaker() as session, session.begin():
        await session.execute(
            update(Attachment)
            .where(Attachment.id == row.id)
            .values(deleted_at=utcnow() - timedelta(days=31))
        )
    # The pass's first step, committed; the process dies before deleting the object.
    async with store.resources.sessionmaker() as session, session.begin():
        assert await collection.purge_removed(session, utcnow() - RETENTION, 1000) == [
            (row.storage_key, None)
        ]
    assert store.stored() == {row.storage_key}
    store.age()  # uploaded long ago, as a file past the retention is

    done = await store.collect()

    assert (done.purged_rows, done.orphans) == (0, 1)
    assert store.stored() == set()


async def test_deleting_a_board_leads_to_its_files_being_collected(store: Files) -> None:
    photo = await store.upload("photo.png", png())
    assert await store.thumbnail(photo) == "made"
    await store.upload("notes.txt", b"words")
    other = await store.api.board(store.owner, name="Other")
    other_task = await store.api.task(other["id"], store.owner)
    kept = await store.upload("kept.txt", b"on another board", task_id=other_task["id"])
    kept_row = await store.row(kept["id"])
    assert kept_row is not None
    deleted = await store.api.http.delete(
        f"/api/v1/boards/{store.board_id}", headers=store.owner.headers
    )
    assert deleted.status_code == 204
    async with store.resources.sessionmaker() as session:
        left = await session.scalars(
            select(Attachment.id).where(Attachment.board_id == uuid.UUID(store.board_id))
        )
        assert left.all() == []  # the rows cascaded away; the objects are still there
    assert len([k for k in store.stored() if k.startswith(f"boards/{store.board_id}/")]) == 3
    store.age()

    done = await store.collect()

    assert done.orphans == 3
    assert store.stored() == {kept_row.storage_key}
    assert not (store.root / "boards" / store.board_id).exists()  # no empty folders either


async def test_one_worker_collects_per_interval_and_logs_what_it_did(
    store: Files, caplog: pytest.LogCaptureFixture
) -> None:
    await store.storage.put(f"boards/{uuid.uuid4()}/x", b"orphan")
    store.age()
    with caplog.at_level(logging.INFO, logger="taskboard.files"):
        first = await files.collect_if_due(store.resources, store.storage)
        second = await files.collect_if_due(store.resources, store.storage)
    assert first is not None
    assert first.orphans == 1
    assert second is None  # another pass ran within the interval
    [record] = [r for r in caplog.records if r.getMessage() == "files collected"]
    assert record.collected["orphans"] == 1  # type: ignore[attr-defined]
    assert REGISTRY.get_sample_value("taskboard_file_collections_total", {"outcome": "done"})


def _stream_fields(logged: dict[str, Any]) -> dict[str, Any]:
    """An event of the log as the notifier reads it from a stream."""
    return {
        "board_id": uuid.UUID(logged["board_id"]),
        "seq": logged["seq"],
        "type": logged["type"],
        "data": logged["data"],
        "actor_id": None,
        "ts": logged["created_at"],
    }


async def test_on_s3_the_same_jobs_work_through_the_same_interface(
    service_urls: ServiceUrls, resources: Resources, s3_server: S3Server
) -> None:
    prefix = f"files-{uuid.uuid4().hex[:10]}"
    on_s3 = make_settings(
        service_urls,
        **{
            k: v
            for k, v in s3_server.settings(prefix).model_dump().items()
            if k.startswith("storage_")
        },
    )
    resources.settings = on_s3
    storage = open_storage(on_s3)
    app = create_app(on_s3, resources=resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = ApiClient(http)
            owner = await api.user("owner")
            board = await api.board(owner)
            task = await api.task(board["id"], owner)
            made = await upload(http, "", owner.headers, task["id"], "photo.png", png())
        assert await files.make_thumbnail(resources, storage, uuid.UUID(made["id"])) == "made"
        async with resources.sessionmaker() as session:
            row = await session.get(Attachment, uuid.UUID(made["id"]))
        assert row is not None
        assert row.thumbnail_key is not None
        orphan = f"boards/{board['id']}/tasks/{task['id']}/{uuid.uuid4()}"
        await storage.put(orphan, b"nobody recorded me")
        referenced = {f"{prefix}/{row.storage_key}", f"{prefix}/{row.thumbnail_key}"}
        assert set(s3_server.keys(f"{prefix}/")) == referenced | {f"{prefix}/{orphan}"}

        # The store's own clock dates its objects: a pass two hours on (time injected).
        done = await files.collect(
            resources, storage, now=utcnow() + 2 * HOUR, grace=HOUR, retention=RETENTION
        )

        assert (done.scanned, done.orphans, done.partials) == (3, 1, 0)
        assert set(s3_server.keys(f"{prefix}/")) == referenced
    finally:
        await storage.aclose()
