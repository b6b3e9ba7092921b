"""`/me`: the caller's account and digest preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field, StrictBool

from app.api.deps import TokenUserId, UowDep
from app.api.errors import problem_responses, unauthorized
from app.api.schemas import NOT_NULL, PatchModel, UserOut
from app.core.models import User
from app.core.preferences import Timezone
from app.preferences import get_user, update_preferences

router = APIRouter(prefix="/me", tags=["me"], responses=problem_responses(401, 422))


class MeOut(UserOut):
    timezone: str
    digest_enabled: bool


class MePatch(PatchModel):
    timezone: Annotated[Timezone | None, Field(json_schema_extra=NOT_NULL)] = None
    digest_enabled: Annotated[StrictBool | None, Field(json_schema_extra=NOT_NULL)] = None


def _found(user: User | None) -> User:
    if user is None:  # a valid token whose user was deleted
        raise unauthorized("Invalid or expired token")
    return user


@router.get("")
async def read_me(user_id: TokenUserId, uow: UowDep) -> MeOut:
    """The caller's account and digest preferences."""
    return MeOut.model_validate(_found(await get_user(uow=uow, user_id=user_id)))


@router.patch("", responses=problem_responses(400))
async def change_me(body: MePatch, user_id: TokenUserId, uow: UowDep) -> MeOut:
    """Change the digest's zone and/or switch it on or off; announces the change."""
    user = await update_preferences(
        uow=uow,
        user_id=user_id,
        cause="settings",
        timezone=body.timezone,
        digest_enabled=body.digest_enabled,
    )
    return MeOut.model_validate(_found(user))
