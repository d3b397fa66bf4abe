"""Attachments on an S3-compatible store (moto, started by the test): bytes pass through the
api on upload and are downloaded straight from the store through a short-lived signed URL that
carries the same protective headers."""

from __future__ import annotations

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
