from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse

from taskboard.attachments import direct, service
from taskboard.attachments.deps import StorageDep
from taskboard.attachments.schemas import (
    AttachmentPage,
    AttachmentRead,
    DirectUpload,
    DirectUploadConfirm,
    DirectUploadGrant,
)
from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.contract import AUTHENTICATED
from taskboard.routing.deps import Res, SettingsDep, UoW
from taskboard.routing.query import Paging
from taskboard.storage import content_disposition

router = authenticated_router(tags=["attachments"])

# Uploads stream: no Idempotency-Key (its check reads the whole body first), and a body cap of
# their own (TASKBOARD_ATTACHMENT_MAX_BYTES, enforced while streaming).
upload_router = APIRouter(tags=["attachments"], responses=AUTHENTICATED)

UPLOAD_PATH = "/tasks/{task_id}/attachments"

# A download can never act as a page of taskboard's origin, whatever it holds.
DOWNLOAD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@upload_router.post(
    UPLOAD_PATH,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file's bytes, as they are (any Content-Type; the real type is "
            "sniffed from the content). At most TASKBOARD_ATTACHMENT_MAX_BYTES.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_attachment(
    task_id: uuid.UUID,
    request: Request,
    resources: Res,
    storage: StorageDep,
    principal: CurrentUser,
    filename: Annotated[str, Query(min_length=1, max_length=1000, description="the file's name")],
) -> AttachmentRead:
    """Attach a file to a task (members). The body streams to storage; past the cap the upload
    stops with 413 and nothing is kept; over the board's storage quota, 409."""
    declared = request.headers.get("content-length")
    return await service.upload(
        resources,
        storage,
        principal,
        task_id,
        filename=filename,
        chunks=request.stream(),
        declared_size=int(declared) if declared and declared.isdigit() else None,
    )


@router.post("/tasks/{task_id}/attachments/direct", status_code=status.HTTP_201_CREATED)
async def grant_direct_upload(
    task_id: uuid.UUID,
    data: DirectUpload,
    resources: Res,
    storage: StorageDep,
    principal: CurrentUser,
) -> DirectUploadGrant:
    """For object stores: a signed PUT that sends the file to the store itself (large files
    never pass through the api), held to the declared size and sha256. Then confirm. A local
    store answers 409 `direct-upload-unavailable`: POST the bytes instead."""
    return await direct.grant(resources, storage, principal, task_id, data)


@router.post("/tasks/{task_id}/attachments/direct/confirm", status_code=status.HTTP_201_CREATED)
async def confirm_direct_upload(
    task_id: uuid.UUID,
    data: DirectUploadConfirm,
    resources: Res,
    storage: StorageDep,
    principal: CurrentUser,
) -> AttachmentRead:
    """Record the file once the store has it (409 `upload-not-received` before); confirming
    again answers the same attachment."""
    return await direct.confirm(resources, storage, principal, task_id, data.token)


@router.get("/tasks/{task_id}/attachments")
async def list_attachments(
    task_id: uuid.UUID, uow: UoW, principal: CurrentUser, page: Paging
) -> AttachmentPage:
    """Oldest first; removed files are not listed."""
    items, next_cursor = await service.list_for_task(uow, principal, task_id, page)
    return AttachmentPage(items=items, next_cursor=next_cursor)


@router.get("/attachments/{attachment_id}")
async def get_attachment(
    attachment_id: uuid.UUID, uow: UoW, principal: CurrentUser
) -> AttachmentRead:
    return await service.get(uow, principal, attachment_id)


async def _answer(found: service.Download) -> Response:
    if found.redirect is not None:
        return RedirectResponse(found.redirect, status_code=status.HTTP_302_FOUND)
    assert found.stream is not None
    headers = {
        **DOWNLOAD_HEADERS,
        "Content-Disposition": content_disposition(
            "inline" if found.inline else "attachment", found.filename
        ),
        "Content-Length": str(found.stream.size),
        "Cache-Control": "private, max-age=300",
        "ETag": f'"{found.attachment.sha256}"',
    }
    return StreamingResponse(found.stream, media_type=found.content_type, headers=headers)


DOWNLOAD_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The file's bytes", "content": {"application/octet-stream": {}}},
    302: {
        "description": "Where the store serves it (a short-lived signed URL)",
        "headers": {"Location": {"description": "the signed URL", "schema": {"type": "string"}}},
    },
}


@router.get(
    "/attachments/{attachment_id}/content",
    response_class=Response,
    responses=DOWNLOAD_RESPONSES,
)
async def download_attachment(
    attachment_id: uuid.UUID,
    uow: UoW,
    storage: StorageDep,
    principal: CurrentUser,
    settings: SettingsDep,
) -> Response:
    """The file, as an attachment to save (images alone inline), under a sandboxing
    Content-Security-Policy; from an object store, a redirect to a short-lived signed URL."""
    ttl = timedelta(seconds=settings.storage_presign_ttl_seconds)
    return await _answer(await service.download(uow, storage, principal, attachment_id, ttl=ttl))


@router.get(
    "/attachments/{attachment_id}/thumbnail",
    response_class=Response,
    responses=DOWNLOAD_RESPONSES,
)
async def download_thumbnail(
    attachment_id: uuid.UUID,
    uow: UoW,
    storage: StorageDep,
    principal: CurrentUser,
    settings: SettingsDep,
) -> Response:
    """A small WebP preview of an image attachment, once the worker has made it (404 before)."""
    ttl = timedelta(seconds=settings.storage_presign_ttl_seconds)
    return await _answer(
        await service.download(uow, storage, principal, attachment_id, ttl=ttl, thumbnail=True)
    )


@router.delete("/attachments/{attachment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_attachment(attachment_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> None:
    """The uploader or an admin; the bytes are purged after the trash's retention."""
    await service.remove(uow, principal, attachment_id)
