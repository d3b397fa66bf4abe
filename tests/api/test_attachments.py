"""Attachments through the API against real storage (a local directory; S3 through moto in
test_attachments_s3.py): members upload, the real type is sniffed, downloads cannot run in
taskboard's origin, caps and quotas refuse without keeping anything, removal is by role."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from taskboard.api.app import create_app
from taskboard.core.config import Settings
from taskboard.core.runtime import Resources
from tests.conftest import make_settings
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient, User

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def stored_files(settings: Settings) -> list[Path]:
    root = Path(urlparse(settings.storage_url or "").path)
    return [p for p in root.rglob("*") if p.is_file()]


async def new_task(api: ApiClient, owner: User, board: dict[str, Any], title: str = "T") -> str:
    made = await api.http.post(
        f"/api/v1/boards/{board['id']}/tasks", json={"title": title}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def upload(
    api: ApiClient, user: User, task_id: str, name: str, content: bytes | AsyncIterator[bytes]
) -> httpx.Response:
    return await api.http.post(
        f"/api/v1/tasks/{task_id}/attachments",
        params={"filename": name},
        content=content,
        headers={**user.headers, "Content-Type": "application/octet-stream"},
    )


async def test_upload_list_download_and_the_event(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    task_id = await new_task(api, owner, board)
    made = await upload(api, owner, task_id, "dot.png", PNG)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["filename"] == "dot.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert body["uploaded_by"] == owner.id
    assert body["has_thumbnail"] is False

    listed = await api.http.get(f"/api/v1/tasks/{task_id}/attachments", headers=owner.headers)
    assert [a["id"] for a in listed.json()["items"]] == [body["id"]]
    log = await api.http.get(f"/api/v1/boards/{board['id']}/events", headers=owner.headers)
    added = [e for e in log.json()["items"] if e["type"] == "attachment.added"]
    assert [e["data"]["id"] for e in added] == [body["id"]]
    assert added[0]["data"]["task_id"] == task_id
    # It is part of the task's history too.
    history = await api.http.get(f"/api/v1/tasks/{task_id}/events", headers=owner.headers)
    assert history.json()["items"][0]["type"] == "attachment.added"

    got = await api.http.get(f"/api/v1/attachments/{body['id']}/content", headers=owner.headers)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("inline")  # a raster image
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert got.headers["etag"] == f'"{body["sha256"]}"'


async def test_html_named_png_is_served_as_a_download_that_cannot_run(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    task_id = await new_task(api, owner, board)
    made = await upload(api, owner, task_id, "innocent.png", HTML)
    assert made.status_code == 201, made.text
    assert made.json()["content_type"] == "text/html"  # the content says so, not the name
    got = await api.http.get(
        f"/api/v1/attachments/{made.json()['id']}/content", headers=owner.headers
    )
    assert got.status_code == 200
    assert got.content == HTML
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert got.headers["x-content-type-options"] == "nosniff"


async def test_filenames_lose_paths_and_control_characters(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    task_id = await new_task(api, owner, board)
    made = await upload(api, owner, task_id, "../../etc/pass\x07wd.txt", b"hello")
    assert made.status_code == 201, made.text
    assert made.json()["filename"] == "passwd.txt"
    nameless = await upload(api, owner, task_id, "../\x8c", b"hello")
    assert nameless.status_code == 201, nameless.text
    assert nameless.json()["filename"] == "attachment"


async def test_viewers_cannot_upload_and_outsiders_cannot_see(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    task_id = await new_task(api, owner, board)
    viewer, outsider = await api.user("viewer"), await api.user("outsider")
    await api.add_member(board["id"], owner, viewer, "viewer")
    before = len(stored_files(api_settings(api)))
    refused = await upload(api, viewer, task_id, "x.txt", b"words")
    assert refused.status_code == 403, refused.text
    hidden = await upload(api, outsider, task_id, "x.txt", b"words")
    assert hidden.status_code == 404, hidden.text
    assert len(stored_files(api_settings(api))) == before  # no byte was stored for them

    made = await upload(api, owner, task_id, "x.txt", b"words")
    attachment = made.json()["id"]
    seen = await api.http.get(f"/api/v1/attachments/{attachment}/content", headers=viewer.headers)
    assert seen.status_code == 200
    assert seen.content == b"words"
    for path in (f"/api/v1/attachments/{attachment}", f"/api/v1/attachments/{attachment}/content"):
        response = await api.http.get(path, headers=outsider.headers)
        assert response.status_code == 404
        assert response.json()["type"].endswith("attachment-not-found")


async def test_removal_by_the_uploader_or_an_admin(
    api: ApiClient, owner: User, board: dict[str, Any]
) -> None:
    task_id = await new_task(api, owner, board)
    member, other = await api.user("member"), await api.user("other")
    await api.add_member(board["id"], owner, member, "member")
    await api.add_member(board["id"], owner, other, "member")
    mine = (await upload(api, member, task_id, "a.txt", b"a")).json()["id"]
    theirs = (await upload(api, other, task_id, "b.txt", b"b")).json()["id"]

    refused = await api.http.delete(f"/api/v1/attachments/{theirs}", headers=member.headers)
    assert refused.status_code == 403
    assert (
        await api.http.delete(f"/api/v1/attachments/{mine}", headers=member.headers)
    ).status_code == 204
    assert (
        await api.http.delete(f"/api/v1/attachments/{theirs}", headers=owner.headers)
    ).status_code == 204
    for gone in (mine, theirs):
        response = await api.http.get(f"/api/v1/attachments/{gone}/content", headers=owner.headers)
        assert response.status_code == 404
    listed = await api.http.get(f"/api/v1/tasks/{task_id}/attachments", headers=owner.headers)
    assert listed.json()["items"] == []
    log = await api.http.get(f"/api/v1/boards/{board['id']}/events", headers=owner.headers)
    removed = [e["data"]["id"] for e in log.json()["items"] if e["type"] == "attachment.removed"]
    assert removed == [mine, theirs]


def api_settings(api: ApiClient) -> Settings:
    app = api.http._transport.app  # type: ignore[attr-defined]
    settings: Settings = app.state.resources.settings
    return settings


@pytest.fixture
async def small_api(
    service_urls: ServiceUrls, settings: Settings, resources: Resources
) -> AsyncIterator[ApiClient]:
    """An api whose files may be 1 KiB each and 2 KiB per board."""
    small = make_settings(
        service_urls,
        storage_url=settings.storage_url,
        attachment_max_bytes=1024,
        board_storage_quota_bytes=2048,
    )
    resources.settings = small
    app = create_app(small, resources=resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield ApiClient(http)


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), so the cap is found while streaming."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


async def test_over_the_cap_is_refused_and_nothing_is_kept(
    small_api: ApiClient, settings: Settings
) -> None:
    owner = await small_api.user("owner")
    board = await small_api.board(owner)
    task_id = await new_task(small_api, owner, board)
    before = stored_files(settings)
    declared = await upload(small_api, owner, task_id, "big.bin", b"x" * 1025)
    assert declared.status_code == 413, declared.text
    assert declared.headers["content-type"] == "application/problem+json"
    streamed = await upload(small_api, owner, task_id, "big.bin", chunks(4096))
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["max_bytes"] == 1024
    assert stored_files(settings) == before
    listed = await small_api.http.get(f"/api/v1/tasks/{task_id}/attachments", headers=owner.headers)
    assert listed.json()["items"] == []
    fits = await upload(small_api, owner, task_id, "fits.bin", chunks(1024))
    assert fits.status_code == 201, fits.text
    assert fits.json()["size"] == 1024


async def test_the_board_quota_counts_live_files(small_api: ApiClient, settings: Settings) -> None:
    owner = await small_api.user("owner")
    board = await small_api.board(owner)
    task_id = await new_task(small_api, owner, board)
    first = await upload(small_api, owner, task_id, "1.bin", b"1" * 1000)
    second = await upload(small_api, owner, task_id, "2.bin", b"2" * 1000)
    assert (first.status_code, second.status_code) == (201, 201)
    before = stored_files(settings)
    assert {p.read_bytes()[:1] for p in before} >= {b"1", b"2"}  # the store, really looked at
    over = await upload(small_api, owner, task_id, "3.bin", chunks(100))  # no length declared
    assert over.status_code == 409, over.text
    assert over.json()["type"].endswith("quota-exceeded")
    assert stored_files(settings) == before  # streamed, then removed when refused
    removed = await small_api.http.delete(
        f"/api/v1/attachments/{first.json()['id']}", headers=owner.headers
    )
    assert removed.status_code == 204
    again = await upload(small_api, owner, task_id, "3.bin", chunks(100))
    assert again.status_code == 201, again.text


async def test_without_storage_uploads_answer_503(
    service_urls: ServiceUrls, resources: Resources
) -> None:
    bare = make_settings(service_urls, storage_url=None)
    resources.settings = bare
    app = create_app(bare, resources=resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        api = ApiClient(http)
        owner = await api.user("owner")
        task_id = await new_task(api, owner, await api.board(owner))
        refused = await upload(api, owner, task_id, "a.txt", b"a")
    assert refused.status_code == 503
    assert "TASKBOARD_STORAGE_URL" in refused.json()["detail"]


async def test_the_snapshot_names_each_cards_cover(
    api: ApiClient, owner: User, board: dict[str, Any], connection: AsyncConnection
) -> None:
    first, second = await new_task(api, owner, board, "A"), await new_task(api, owner, board, "B")
    older = (await upload(api, owner, first, "old.png", PNG)).json()["id"]
    newer = (await upload(api, owner, first, "new.png", PNG)).json()["id"]
    await upload(api, owner, second, "notes.txt", b"words")
    # What the worker records once it made the thumbnails (tests/worker covers the making).
    await connection.execute(
        text(
            "UPDATE attachments SET thumbnail_key = storage_key || '.thumb.webp' "
            "WHERE id IN (:a, :b)"
        ),
        {"a": older, "b": newer},
    )
    snapshot = await api.http.get(f"/api/v1/boards/{board['id']}", headers=owner.headers)
    assert snapshot.json()["covers"] == {first: newer}  # the newest image; none for text
