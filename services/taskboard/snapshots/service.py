"""The board snapshot: everything a client needs to render a board, consistent as of `seq`,
built from the columns, labels, members and tasks below it and cached per (board, seq)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from prometheus_client import Counter

from taskboard.access import repository as access_repository
from taskboard.access.errors import BoardNotFound
from taskboard.attachments import service as attachments_service
from taskboard.auth.principal import Principal
from taskboard.boards.service import board_fresh, list_members_unchecked
from taskboard.columns import service as columns_service
from taskboard.columns.schemas import ColumnRead
from taskboard.core.db import UnitOfWork
from taskboard.labels import service as labels_service
from taskboard.labels.schemas import LabelRead
from taskboard.snapshots.cache import SnapshotCache
from taskboard.snapshots.schemas import SnapshotBody
from taskboard.tasks import repository as tasks_repository


async def snapshot(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, *, cache: SnapshotCache
) -> bytes:
    """The board snapshot as JSON, from the cache when this seq was built before."""
    found = await access_repository.role_and_history(uow.session, board_id, principal.user_id)
    if found is None:
        raise BoardNotFound()
    role, seq, epoch = found
    body = await cache.get(board_id, epoch, seq)
    if body is None:
        body = await _build_once(uow, board_id, epoch, seq, cache)
    # The cached part is the same for every caller; only the caller's role is spliced in.
    return b'{"role":"' + role.encode() + b'",' + body[1:]


# Builds in progress in this process, by (board, epoch, seq): later askers wait for the first.
_building: dict[tuple[uuid.UUID, str, int], asyncio.Future[bytes]] = {}
BUILT = Counter(
    "taskboard_snapshot_builds_total", "Board snapshots built from PostgreSQL (cache misses)"
)
SHARED = Counter(
    "taskboard_snapshot_builds_shared_total",
    "Snapshot requests answered by a build another request of this process started",
)


async def _build_once(
    uow: UnitOfWork, board_id: uuid.UUID, epoch: str, seq: int, cache: SnapshotCache
) -> bytes:
    """However many ask for one (board, seq) at once, one of them builds it (a 5,000-task
    board costs tens of megabytes and tens of milliseconds of database time per build); the
    others wait for that build, in this process, and for the cache across processes."""
    key = (board_id, epoch, seq)
    pending = _building.get(key)
    if pending is not None:
        with contextlib.suppress(Exception):  # the builder's failure is its own to report
            body = await asyncio.shield(pending)
            SHARED.inc()
            return body
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    _building[key] = future
    try:
        if not await cache.claim(board_id, epoch, seq):
            elsewhere = await cache.wait_for(board_id, epoch, seq)
            if elsewhere is not None:
                SHARED.inc()
                future.set_result(elsewhere)
                return elsewhere
        built_seq, body = await _build_snapshot(uow, board_id)
        BUILT.inc()
        await cache.put(board_id, epoch, built_seq, body)
        if built_seq != seq:
            await cache.put(board_id, epoch, seq, body)  # asked for seq: a newer state answers it
        future.set_result(body)
        return body
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters build for themselves
        raise
    finally:
        _building.pop(key, None)


async def _build_snapshot(uow: UnitOfWork, board_id: uuid.UUID) -> tuple[int, bytes]:
    """The board exactly as of its `seq`.

    Every write bumps seq, so if seq reads the same before and after the other statements, no
    write committed in between and they all saw one state (cheaper than a REPEATABLE READ
    transaction of its own). A board written faster than it can be read is retried a few times.
    """
    for _ in range(5):
        board = await board_fresh(uow, board_id)
        seq = board.last_seq
        columns = await columns_service.list_for_board(uow, board_id)
        labels = await labels_service.list_for_board(uow, board_id)
        members = await list_members_unchecked(uow, board_id)
        covers = await attachments_service.covers(uow, board_id)
        tasks = await tasks_repository.live_tasks_json(uow.session, board_id)
        if await access_repository.current_seq(uow.session, board_id) == seq:
            break
    head = SnapshotBody(
        id=board.id,
        name=board.name,
        description=board.description,
        seq=seq,
        epoch=board.epoch,
        created_at=board.created_at,
        updated_at=board.updated_at,
        archived_at=board.archived_at,
        columns=[ColumnRead.model_validate(c) for c in columns],
        labels=[LabelRead.model_validate(label) for label in labels],
        members=members,
        covers=covers,
        tasks=[],
    ).model_dump_json()
    # `tasks` is the model's last field: put PostgreSQL's array where the empty one is.
    empty = '"tasks":[]}'
    assert head.endswith(empty)
    return seq, (head[: -len(empty)] + '"tasks":' + tasks + "}").encode()
