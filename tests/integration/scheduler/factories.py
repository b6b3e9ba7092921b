"""Users and tasks written straight into PostgreSQL, with defaults for everything a test ignores."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.models import Task, User

_sequence = itertools.count(1)
BASE_TIME = datetime(2025, 12, 31, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class TaskSpec:
    title: str
    done: bool = False
    created_at: datetime | None = None


def open_tasks(count: int, *, prefix: str = "open") -> list[TaskSpec]:
    """`count` undone tasks created a minute apart, so their order is known."""
    return [
        TaskSpec(f"{prefix} {n}", created_at=BASE_TIME + timedelta(minutes=n)) for n in range(count)
    ]


async def create_user(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    tasks: Sequence[TaskSpec] = (),
    email: str | None = None,
    user_id: uuid.UUID | None = None,
) -> User:
    """One user with the given tasks, committed."""
    number = next(_sequence)
    user = User(
        id=user_id or uuid.uuid4(),
        email=email or f"user{number}@example.com",
        password_hash="not-a-real-hash",
        created_at=BASE_TIME,
    )
    async with session_factory() as session, session.begin():
        session.add(user)
        await session.flush()
        if tasks:
            await session.execute(
                insert(Task),
                [
                    {
                        "id": uuid.uuid4(),
                        "user_id": user.id,
                        "title": spec.title,
                        "done": spec.done,
                        "created_at": spec.created_at or BASE_TIME,
                        "done_at": BASE_TIME if spec.done else None,
                    }
                    for spec in tasks
                ],
            )
    return user


async def create_users(
    session_factory: async_sessionmaker[AsyncSession], count: int, *, tasks: int = 0
) -> list[User]:
    """`count` users with `tasks` undone tasks each."""
    return [await create_user(session_factory, tasks=open_tasks(tasks)) for _ in range(count)]
