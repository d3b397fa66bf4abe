"""Direct uploads to an object store: the api signs a PUT the client sends to the store itself
(so large files never pass through api pods), then records the file when the client confirms.

No table holds uploads in flight: the grant is a signed token naming the task, the key, the
name, the size and the sha256, valid as long as the signed PUT. A grant never confirmed leaves
an object without a row, which the worker's collector removes after its grace period."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt

from taskboard.attachments import service
from taskboard.attachments.errors import DirectUploadUnavailable, UploadNotReceived
from taskboard.attachments.models import Attachment
from taskboard.attachments.schemas import AttachmentRead, DirectUpload, DirectUploadGrant
from taskboard.auth.principal import Principal
from taskboard.core.db import utcnow
from taskboard.core.errors import FieldProblem, ValidationFailed
from taskboard.core.runtime import Resources, unit_of_work
from taskboard.core.security import decode_signed
from taskboard.events import log as events
from taskboard.storage import ObjectTooLarge, Storage, sniff

AUDIENCE = "taskboard:direct-upload"


def _secret(resources: Resources) -> str:
    return resources.settings.secret_key.get_secret_value()


async def grant(
    resources: Resources,
    storage: Storage,
    principal: Principal,
    task_id: uuid.UUID,
    data: DirectUpload,
) -> DirectUploadGrant:
    settings = resources.settings
    if not storage.can_presign:
        raise DirectUploadUnavailable(
            "This store takes uploads through the api: POST the bytes to "
            f"/api/v1/tasks/{task_id}/attachments"
        )
    if data.size > settings.attachment_max_bytes:
        raise ObjectTooLarge(settings.attachment_max_bytes)
    name = service.clean_filename(data.filename)
    async with unit_of_work(resources) as uow:
        board_id = await service.writable_task(uow, principal, task_id)
        service.check_quota(
            await service.stored_on_board(uow, board_id),
            data.size,
            settings.board_storage_quota_bytes,
        )
    attachment_id = uuid.uuid4()
    key = service.object_key(board_id, task_id, attachment_id)
    ttl = timedelta(seconds=settings.storage_presign_ttl_seconds)
    signed = await storage.presigned_put(key, ttl=ttl, content_length=data.size, sha256=data.sha256)
    assert signed is not None  # can_presign
    token = jwt.encode(
        {
            "aud": AUDIENCE,
            "sub": str(principal.user_id),
            "exp": signed.expires_at,
            "id": str(attachment_id),
            "task": str(task_id),
            "board": str(board_id),
            "key": key,
            "name": name,
            "size": data.size,
            "sha256": data.sha256,
        },
        _secret(resources),
        algorithm="HS256",
    )
    return DirectUploadGrant(
        method=signed.method,
        url=signed.url,
        headers=signed.headers,
        expires_at=signed.expires_at,
        token=token,
    )


def _claims(
    resources: Resources, token: str, principal: Principal, task_id: uuid.UUID
) -> dict[str, Any]:
    try:
        claims = decode_signed(
            token, resources.settings.verification_keys, algorithms=["HS256"], audience=AUDIENCE
        )
    except jwt.ExpiredSignatureError:
        raise ValidationFailed(
            fields=[FieldProblem("token", "expired", "the upload grant expired; ask again")]
        ) from None
    except jwt.InvalidTokenError:
        raise ValidationFailed(
            fields=[FieldProblem("token", "invalid", "is not an upload grant of this api")]
        ) from None
    if claims.get("sub") != str(principal.user_id) or claims.get("task") != str(task_id):
        raise ValidationFailed(
            fields=[FieldProblem("token", "invalid", "was granted to another upload")]
        )
    return claims


async def confirm(
    resources: Resources,
    storage: Storage,
    principal: Principal,
    task_id: uuid.UUID,
    token: str,
) -> AttachmentRead:
    """Record a file the client PUT to the store: it must be there with the granted size (the
    store already held the PUT to that size and sha256). Confirming twice answers the same
    attachment."""
    claims = _claims(resources, token, principal, task_id)
    key = str(claims["key"])
    attachment_id = uuid.UUID(str(claims["id"]))
    async with unit_of_work(resources) as uow:
        existing = await uow.session.get(Attachment, attachment_id)
        if existing is not None:
            await service.writable_task(uow, principal, task_id)
            return service.read(existing)
    found = await storage.head(key)
    if found is None or found.size != int(claims["size"]):
        raise UploadNotReceived("The store has not received the file granted; PUT it first")
    sniffed = sniff(await storage.read_head(key))
    async with unit_of_work(resources) as uow:
        board_id = await service.writable_task(uow, principal, task_id)
        service.check_quota(
            await service.stored_on_board(uow, board_id),
            found.size,
            resources.settings.board_storage_quota_bytes,
        )
        row = Attachment(
            id=attachment_id,
            board_id=board_id,
            task_id=task_id,
            storage_key=key,
            filename=str(claims["name"]),
            content_type=sniffed,
            size=found.size,
            sha256=str(claims["sha256"]),
            uploaded_by=principal.user_id,
            created_at=utcnow(),
        )
        uow.session.add(row)
        await uow.session.flush()
        result = service.read(row)
        await events.append(
            uow,
            board_id=board_id,
            type="attachment.added",
            data=result.model_dump(mode="json"),
            actor_id=principal.user_id,
        )
    return result
