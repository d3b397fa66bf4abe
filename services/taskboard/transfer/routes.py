from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from taskboard.attachments.errors import StorageUnavailable
from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import REPLAY_HEADER, authenticated_router
from taskboard.routing.contract import AUTHENTICATED
from taskboard.routing.deps import SettingsDep, UoW
from taskboard.storage import ReadStream, content_disposition
from taskboard.transfer import archive, export, service, sheets, trello
from taskboard.transfer.deps import ImportKey, MaybeStorage
from taskboard.transfer.document import BoardDocument
from taskboard.transfer.schemas import ImportJobRead, ImportResult
from taskboard.transfer.trello import TrelloBoard

router = authenticated_router(tags=["boards"])
jobs_router = authenticated_router(tags=["imports"])
# Imports answer retries from the job itself (its state now, not a stored response), so they
# take the Idempotency-Key on their own; their body cap is TASKBOARD_IMPORT_MAX_BYTES.
import_router = APIRouter(tags=["boards"], responses=AUTHENTICATED)

IMPORT_PATHS = ("/boards/import", "/boards/import/trello")
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "The import job, queued (or, for a retry, as it now stands)",
        "headers": {
            "Location": {
                "description": "The job: `/api/v1/imports/{id}`",
                "schema": {"type": "string"},
            }
        },
    }
}


def _filename(name: str, extension: str) -> str:
    return f"{name.strip() or 'board'}.{extension}"


@router.get("/boards/{board_id}/export")
async def export_board(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> BoardDocument:
    """The whole board as a versioned document (board admins): columns, labels, members by
    e-mail, tasks in order with the trash, comment threads, attachments' records. POST it to
    /boards/import to make a copy, here or on another server."""
    return (await export.export(uow, principal, board_id)).document


@router.get(
    "/boards/{board_id}/export.csv",
    response_class=Response,
    responses={200: {"description": "The board's live tasks", "content": {"text/csv": {}}}},
)
async def export_board_csv(board_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> Response:
    """The live tasks for spreadsheets (board admins): UTF-8 with a byte-order mark, formula
    characters at a cell's start quoted."""
    found = await export.export(uow, principal, board_id)
    return Response(
        sheets.write(found.document),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(
                "attachment", _filename(found.document.board.name, "csv")
            )
        },
    )


@router.get(
    "/boards/{board_id}/export.zip",
    response_class=Response,
    responses={
        200: {
            "description": "board.json and the files under files/",
            "content": {"application/zip": {}},
        }
    },
)
async def export_board_zip(
    board_id: uuid.UUID, uow: UoW, principal: CurrentUser, storage: MaybeStorage
) -> Response:
    """The document as board.json plus every file (board admins), streamed as it is read from
    file storage."""
    found = await export.export(uow, principal, board_id)
    if found.keys and storage is None:
        raise StorageUnavailable("The board has files; set TASKBOARD_STORAGE_URL")

    async def body() -> AsyncIterator[bytes]:
        assert storage is not None or not found.keys
        async for chunk in archive.stream(
            found.document, found.keys, storage.open_read if storage else _no_storage
        ):
            yield chunk

    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={
            "Content-Disposition": content_disposition(
                "attachment", _filename(found.document.board.name, "zip")
            )
        },
    )


async def _no_storage(key: str) -> ReadStream:
    raise StorageUnavailable()


async def _queued(
    request: Request,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
    key: str | None,
    source: str,
    document: BoardDocument,
    notes: ImportResult | None = None,
) -> ImportJobRead:
    digest = hashlib.sha256(await request.body()).hexdigest()
    job, again = await service.submit(
        uow,
        principal,
        source=source,
        document=document,
        body_sha256=digest,
        key=key,
        settings=settings,
        notes=notes,
    )
    response.headers["Location"] = f"/api/v1/imports/{job.id}"
    if again:
        response.headers[REPLAY_HEADER] = "true"
    return job


@import_router.post("/boards/import", status_code=status.HTTP_202_ACCEPTED, responses=ACCEPTED)
async def import_board(
    data: BoardDocument,
    request: Request,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
    key: ImportKey,
) -> ImportJobRead:
    """Make a new board from a board document (what GET /boards/{id}/export answers); the
    caller owns it. Answers 202 with the job, which a worker runs (GET /imports/{id}; progress
    on the caller's socket). Members are matched to accounts by e-mail."""
    return await _queued(request, response, uow, principal, settings, key, "taskboard", data)


@import_router.post(
    "/boards/import/trello", status_code=status.HTTP_202_ACCEPTED, responses=ACCEPTED
)
async def import_trello(
    data: TrelloBoard,
    request: Request,
    response: Response,
    uow: UoW,
    principal: CurrentUser,
    settings: SettingsDep,
    key: ImportKey,
) -> ImportJobRead:
    """Make a new board from a Trello board's JSON export (Menu > Print, export and share >
    Export as JSON): lists become columns, cards tasks (archived ones in the trash), labels,
    due dates, checklists (Markdown task lists), comments and attachment links come along;
    members are matched to accounts by e-mail, and those who cannot be are reported."""
    document, notes = trello.convert(data)
    return await _queued(
        request, response, uow, principal, settings, key, "trello", document, notes
    )


@jobs_router.get("/imports/{import_id}")
async def get_import(import_id: uuid.UUID, uow: UoW, principal: CurrentUser) -> ImportJobRead:
    """Your import: its status, progress, and once done the new board and what was made."""
    return await service.get(uow, principal, import_id)
