from __future__ import annotations

import uuid

from sqlalchemy import func, select

from taskboard.access.roles import Role
from taskboard.access.service import require_role
from taskboard.auth.principal import Principal
from taskboard.core import quotas
from taskboard.core.db import UnitOfWork
from taskboard.core.errors import FieldProblem
from taskboard.core.paging import PageRequest, keyset_page
from taskboard.events import log as events
from taskboard.labels.errors import LabelNameTaken, LabelNotFound
from taskboard.labels.models import Label
from taskboard.labels.schemas import LabelCreate, LabelRead, LabelUpdate


async def list_for_board(uow: UnitOfWork, board_id: uuid.UUID) -> list[Label]:
    stmt = select(Label).where(Label.board_id == board_id).order_by(func.lower(Label.name))
    return list((await uow.session.execute(stmt)).scalars())


async def list_visible(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, page: PageRequest
) -> tuple[list[LabelRead], str | None]:
    await require_role(uow, board_id, principal, "viewer")
    return await keyset_page(
        uow.session,
        select(Label).where(Label.board_id == board_id),
        keys=[func.lower(Label.name), Label.id],
        kinds=["text", "uuid"],
        page=page,
        item=lambda row: LabelRead.model_validate(row[0]),
    )


async def _name_free(
    uow: UnitOfWork, board_id: uuid.UUID, name: str, exclude: uuid.UUID | None
) -> None:
    stmt = select(Label.id).where(
        Label.board_id == board_id, func.lower(Label.name) == func.lower(name)
    )
    if exclude is not None:
        stmt = stmt.where(Label.id != exclude)
    if (await uow.session.execute(stmt)).first() is not None:
        raise LabelNameTaken(
            fields=[FieldProblem("name", "unique", "is already used on this board")]
        )


async def create(
    uow: UnitOfWork, principal: Principal, board_id: uuid.UUID, data: LabelCreate, *, quota: int
) -> LabelRead:
    await require_role(uow, board_id, principal, "admin")
    await quotas.enforce(
        uow.session,
        select(func.count()).select_from(Label).where(Label.board_id == board_id),
        limit=quota,
        what="labels on a board",
    )
    await _name_free(uow, board_id, data.name, None)
    label = Label(id=uuid.uuid4(), board_id=board_id, name=data.name, color=data.color)
    uow.session.add(label)
    return await events.record(
        uow, LabelRead, label, board_id=board_id, type="label.created", actor_id=principal.user_id
    )


async def update(
    uow: UnitOfWork, principal: Principal, label_id: uuid.UUID, changes: LabelUpdate
) -> LabelRead:
    label = await _visible(uow, principal, label_id, "admin")
    fields = changes.model_dump(exclude_unset=True)
    if "name" in fields:
        await _name_free(uow, label.board_id, fields["name"], label.id)
    for name, value in fields.items():
        setattr(label, name, value)
    return await events.record(
        uow,
        LabelRead,
        label,
        board_id=label.board_id,
        type="label.updated",
        actor_id=principal.user_id,
    )


async def delete(uow: UnitOfWork, principal: Principal, label_id: uuid.UUID) -> None:
    label = await _visible(uow, principal, label_id, "admin")
    await uow.session.delete(label)
    await uow.session.flush()
    await events.append(
        uow,
        board_id=label.board_id,
        type="label.deleted",
        data={"id": str(label_id)},
        actor_id=principal.user_id,
    )


async def _visible(
    uow: UnitOfWork, principal: Principal, label_id: uuid.UUID, minimum: Role
) -> Label:
    """A label on a board the caller cannot see does not exist for them."""
    label = await uow.session.get(Label, label_id)
    if label is None:
        raise LabelNotFound()
    await require_role(uow, label.board_id, principal, minimum, hidden=LabelNotFound)
    return label
