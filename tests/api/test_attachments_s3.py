"""Attachments on an S3-compatible store (moto, started by the test): bytes pass through the
api on upload and are downloaded straight from the store through a short-lived signed URL that
carries the same protective headers."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from taskboard.api.app import create_app
from taskboard.core.runtime import Resources
from tests.api.test_attachments import HTML, PNG, new_task, upload
from tests.conftest import make_settings
from tests.fixtures.s3 import S3Server
from tests.fixtures.services import ServiceUrls
from tests.helpers import ApiClient


@pytest.fixture
async def s3_api(
    service_urls: ServiceUrls, resources: Resources, s3_server: S3Server
) -> AsyncIterator[tuple[ApiClient, str]]:
    prefix = f"api-{uuid.uuid4().hex[:10]}"
    on_s3 = s3_server.settings(prefix)
    settings = make_settings(
        service_urls,
        **{k: v for k, v in on_s3.model_dump().items() if k.startswith("storage_")},
    )
    resources.settings = settings
    app = create_app(settings, resources=resources)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield ApiClient(http), prefix


async def test_upload_to_s3_and_download_by_signed_redirect(
    s3_api: tuple[ApiClient, str], s3_server: S3Server
) -> None:
    api, prefix = s3_api
    owner = await api.user("owner")
    board = await api.board(owner)
    task_id = await new_task(api, owner, board)
    image = await upload(api, owner, task_id, "dot.png", PNG)
    page = await upload(api, owner, task_id, "page.png", HTML)
    assert (image.status_code, page.status_code) == (201, 201)
    stored = s3_server.keys(f"{prefix}/")
    assert len(stored) == 2
    assert all(key.startswith(f"{prefix}/boards/{board['id']}/tasks/{task_id}/") for key in stored)

    async with httpx.AsyncClient() as outside:  # the browser, following the redirect
        for made, body, disposition, served in (
            (image, PNG, "inline", "image/png"),
            (page, HTML, "attachment", "application/octet-stream"),
        ):
            answer = await api.http.get(
                f"/api/v1/attachments/{made.json()['id']}/content", headers=owner.headers
            )
            assert answer.status_code == 302
            fetched = await outside.get(answer.headers["location"])
            assert fetched.status_code == 200
            assert fetched.content == body
            assert fetched.headers["content-disposition"].startswith(disposition)
            assert fetched.headers["content-type"] == served


async def test_direct_upload_goes_to_the_store_and_is_confirmed(
    s3_api: tuple[ApiClient, str], s3_server: S3Server
) -> None:
    api, prefix = s3_api
    owner = await api.user("owner")
    board = await api.board(owner)
    task_id = await new_task(api, owner, board)
    other_task = await new_task(api, owner, board, "Other")
    content = b"%PDF-1.7\n" + b"x" * 5000
    asked = await api.http.post(
        f"/api/v1/tasks/{task_id}/attachments/direct",
        json={
            "filename": "report.pdf",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
        headers=owner.headers,
    )
    assert asked.status_code == 201, asked.text
    grant = asked.json()
    confirm_url = f"/api/v1/tasks/{task_id}/attachments/direct/confirm"
    early = await api.http.post(confirm_url, json={"token": grant["token"]}, headers=owner.headers)
    assert early.status_code == 409
    assert early.json()["type"].endswith("upload-not-received")

    async with httpx.AsyncClient() as browser:  # straight to the store, not through the api
        put = await browser.request(
            grant["method"], grant["url"], headers=grant["headers"], content=content
        )
        assert put.status_code == 200, put.text
    assert len(s3_server.keys(f"{prefix}/")) == 1

    elsewhere = await api.http.post(
        f"/api/v1/tasks/{other_task}/attachments/direct/confirm",
        json={"token": grant["token"]},
        headers=owner.headers,
    )
    assert elsewhere.status_code == 422
    confirmed = await api.http.post(
        confirm_url, json={"token": grant["token"]}, headers=owner.headers
    )
    assert confirmed.status_code == 201, confirmed.text
    body = confirmed.json()
    assert (body["filename"], body["size"], body["content_type"]) == (
        "report.pdf",
        len(content),
        "application/pdf",
    )
    again = await api.http.post(confirm_url, json={"token": grant["token"]}, headers=owner.headers)
    assert again.json()["id"] == body["id"]
    listed = await api.http.get(f"/api/v1/tasks/{task_id}/attachments", headers=owner.headers)
    assert [a["id"] for a in listed.json()["items"]] == [body["id"]]


async def test_direct_upload_is_refused_past_the_cap_and_on_local_storage(
    s3_api: tuple[ApiClient, str], api: ApiClient
) -> None:
    on_s3, _ = s3_api
    owner = await on_s3.user("owner")
    task_id = await new_task(on_s3, owner, await on_s3.board(owner))
    too_big = await on_s3.http.post(
        f"/api/v1/tasks/{task_id}/attachments/direct",
        json={"filename": "big.iso", "size": 10**12, "sha256": "0" * 64},
        headers=owner.headers,
    )
    assert too_big.status_code == 413
    local_owner = await api.user("owner")
    local_task = await new_task(api, local_owner, await api.board(local_owner))
    local = await api.http.post(
        f"/api/v1/tasks/{local_task}/attachments/direct",
        json={"filename": "a.txt", "size": 1, "sha256": "0" * 64},
        headers=local_owner.headers,
    )
    assert local.status_code == 409
    assert local.json()["type"].endswith("direct-upload-unavailable")
