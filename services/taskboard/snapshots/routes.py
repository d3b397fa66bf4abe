from __future__ import annotations

import uuid

from fastapi import Response

from taskboard.auth.deps import CurrentUser
from taskboard.idempotency.deps import authenticated_router
from taskboard.routing.deps import Res, UoW
from taskboard.snapshots import service
from taskboard.snapshots.cache import SnapshotCache
from taskboard.snapshots.schemas import BoardSnapshot

router = authenticated_router(tags=["boards"])


@router.get("/boards/{board_id}", response_model=BoardSnapshot)
async def get_board(board_id: uuid.UUID, uow: UoW, principal: CurrentUser, res: Res) -> Response:
    cache = SnapshotCache(res.redis, res.settings.snapshot_cache_ttl_seconds)
    body = await service.snapshot(uow, principal, board_id, cache=cache)
    return Response(body, media_type="application/json")
