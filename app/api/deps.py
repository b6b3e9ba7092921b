"""Dependencies: settings, the unit of work, the current user's id and the task they own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from app.api.errors import unauthorized
from app.api.state import AppState
from app.core.db import SqlAlchemyUnitOfWork
from app.core.models import Task
from app.security import user_id_from_token
from app.tasks import get_owned_task
from app.users import user_exists

# Relative, so the /docs "Authorize" button also works behind a proxy prefix such as /api/.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/login", auto_error=False)


async def get_state(request: Request) -> AppState:
    # `async`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request.
    state: AppState = request.app.state.api
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_uow(state: StateDep) -> AsyncIterator[SqlAlchemyUnitOfWork]:
    async with SqlAlchemyUnitOfWork(state.session_factory, topic=state.settings.kafka_topic) as uow:
        yield uow


# ONE unit of work per request, on purpose: `OwnedTask` loads and locks the task through
# `SessionDep`, which depends on this, and the route commits through its own `UowDep`. FastAPI
# resolves a dependency once per request and hands every dependant that same value (the cache
# below), so the lock, the change and the outbox rows share one transaction. Without the cache
# the route would commit a second, empty transaction while the first still held the lock.
UowDep = Annotated[SqlAlchemyUnitOfWork, Depends(get_uow, use_cache=True)]


async def get_session(uow: UowDep) -> AsyncSession:
    return uow.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_token_user_id(
    token: Annotated[str | None, Depends(oauth2_scheme)], state: StateDep
) -> uuid.UUID:
    """The user id a valid bearer token names, without asking the database.

    Only for handlers whose own statement checks that the user still exists (`POST /tasks`).
    """
    if not token:
        raise unauthorized()
    return user_id_from_token(token, secret=state.settings.jwt_secret)


TokenUserId = Annotated[uuid.UUID, Depends(get_token_user_id)]


async def get_current_user_id(user_id: TokenUserId, session: SessionDep) -> uuid.UUID:
    """The id of the user the bearer token names; a valid token for a deleted user is refused."""
    if not await user_exists(session=session, user_id=user_id):
        raise unauthorized("Invalid or expired token")
    return user_id


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_owned_task_for_update(
    task_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> Task:
    """The caller's task, locked for this transaction; someone else's is a plain 404."""
    task = await get_owned_task(session=session, user_id=user_id, task_id=task_id, for_update=True)
    if task is None:
        raise HTTPException(404, "Task not found")
    return task


OwnedTask = Annotated[Task, Depends(get_owned_task_for_update)]
