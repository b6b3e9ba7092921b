"""The unit of work commits a change and its events together, or neither."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.db import SqlAlchemyUnitOfWork
from app.core.events import UserRegistered, decode_event
from app.core.models import OutboxEvent, User

pytestmark = pytest.mark.integration


async def _count(session_factory: async_sessionmaker[AsyncSession], model: type) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _register(session_factory: async_sessionmaker[AsyncSession], user: User) -> None:
    async with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.session.add(user)
        uow.add_event(UserRegistered(user_id=user.id, email=user.email))
        await uow.commit()


def _user() -> User:
    return User(id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@example.com", password_hash="x")


async def test_commit_writes_the_row_and_its_event_in_one_transaction(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    user = _user()
    await _register(session_factory, user)

    async with session_factory() as session:
        row = (await session.scalars(select(OutboxEvent))).one()
    assert row.key == str(user.id)
    assert row.type == "user.registered"
    assert row.published_at is None
    event = decode_event(json.dumps(row.payload))
    assert event.user_id == user.id


async def test_leaving_without_commit_rolls_back_the_row_and_its_event(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    user = _user()
    async with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.session.add(user)
        uow.add_event(UserRegistered(user_id=user.id, email=user.email))
        await uow.session.flush()

    assert await _count(session_factory, User) == 0
    assert await _count(session_factory, OutboxEvent) == 0


async def test_a_failing_commit_leaves_neither_row_nor_event(
    db: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first = _user()
    async with SqlAlchemyUnitOfWork(session_factory) as uow:
        uow.session.add(first)
        await uow.commit()

    clash = User(id=uuid.uuid4(), email=first.email, password_hash="x")
    with pytest.raises(IntegrityError, match="uq_users_email"):
        await _register(session_factory, clash)

    assert await _count(session_factory, User) == 1
    assert await _count(session_factory, OutboxEvent) == 0
