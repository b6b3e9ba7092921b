"""`/me`: the caller's account and digest preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import Field, StrictBool

from app.api.deps import StateDep, TokenUserId, UowDep
from app.api.errors import problem_responses, unauthorized
from app.api.schemas import NOT_NULL, PatchModel, UserOut
from app.core.db import PreparedStatements
from app.core.models import User
from app.core.preferences import Timezone
from app.preferences import read_user, update_preferences

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


# Documents the body; the handler returns a `Response` it serialised, validated once.
@router.get("", response_model=MeOut)
async def read_me(user_id: TokenUserId, state: StateDep) -> Response:
    """The caller's account and digest preferences."""
    # One prepared statement on an autocommit connection, no transaction around it.
    async with state.autocommit.connect() as conn:
        user = await read_user(await PreparedStatements.on(conn), user_id=user_id)
    if user is None:  # a valid token whose user was deleted
        raise unauthorized("Invalid or expired token")
    body = MeOut.model_validate(user).model_dump_json()
    return Response(body, media_type="application/json")


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
