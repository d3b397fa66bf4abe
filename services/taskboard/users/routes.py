from __future__ import annotations

from fastapi import APIRouter

from taskboard.rest.deps import CurrentUser, UoW
from taskboard.users import service
from taskboard.users.schemas import UserRead, UserUpdate

router = APIRouter(tags=["users"])


@router.get("/me")
async def me(uow: UoW, principal: CurrentUser) -> UserRead:
    return UserRead.model_validate(await service.get(uow, principal.user_id))


@router.patch("/me")
async def update_me(data: UserUpdate, uow: UoW, principal: CurrentUser) -> UserRead:
    user = await service.get(uow, principal.user_id)
    return UserRead.model_validate(await service.update(uow, user, data))
