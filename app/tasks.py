"""Tasks: create, change, delete, list. Each change commits with the events that announce it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import UnitOfWork
from app.events import Event, TaskCompleted, TaskCreated, TaskDeleted, TaskReopened, TaskUpdated
from app.models import Base, Task

TASKS_TABLE = Base.metadata.tables["tasks"]


def apply_changes(
    task: Task, *, title: str | None = None, done: bool | None = None, now: datetime
) -> list[Event]:
    """Change the task in place and return the events for what really changed."""
    events: list[Event] = []
    if title is not None and title != task.title:
        task.title = title
        events.append(
            TaskUpdated(user_id=task.user_id, task_id=task.id, title=title, occurred_at=now)
        )
    if done is True and not task.done:
        task.done, task.done_at = True, now
        events.append(TaskCompleted(user_id=task.user_id, task_id=task.id, occurred_at=now))
    elif done is False and task.done:
        task.done, task.done_at = False, None
        events.append(TaskReopened(user_id=task.user_id, task_id=task.id, occurred_at=now))
    return events


async def create_task(*, uow: UnitOfWork, user_id: uuid.UUID, title: str) -> Task:
    """Add a task and announce `task.created`."""
    now = datetime.now(UTC)
    task = Task(id=uuid.uuid4(), user_id=user_id, title=title, done=False, created_at=now)
    # A Core INSERT of the values we already hold: the ORM flush machinery costs more CPU than
    # the statement itself, and nothing needs to come back from the database.
    await uow.session.execute(
        insert(TASKS_TABLE).values(
            id=task.id, user_id=user_id, title=title, done=False, created_at=now
        )
    )
    uow.add_event(TaskCreated(user_id=user_id, task_id=task.id, title=title, occurred_at=now))
    await uow.commit()
    return task


async def update_task(
    *, uow: UnitOfWork, task: Task, title: str | None = None, done: bool | None = None
) -> Task:
    """Apply a partial update; a no-op writes nothing and announces nothing."""
    events = apply_changes(task, title=title, done=done, now=datetime.now(UTC))
    if events:
        for event in events:
            uow.add_event(event)
        await uow.commit()
    return task


async def delete_task(*, uow: UnitOfWork, task: Task) -> None:
    """Delete a task and announce `task.deleted`."""
    await uow.session.delete(task)
    uow.add_event(TaskDeleted(user_id=task.user_id, task_id=task.id))
    await uow.commit()


async def get_owned_task(
    *, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, for_update: bool = False
) -> Task | None:
    """The task if this user owns it; `for_update` locks it so transitions serialise."""
    stmt = select(Task).where(Task.id == task_id, Task.user_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def list_tasks(
    *, session: AsyncSession, user_id: uuid.UUID, done: bool | None, limit: int, offset: int
) -> tuple[Sequence[Task], int]:
    """One page of the user's tasks, oldest first, and the total matching the filter."""
    where = [Task.user_id == user_id]
    if done is not None:
        where.append(Task.done == done)
    total = await session.scalar(select(func.count()).select_from(Task).where(*where))
    page = await session.scalars(
        select(Task).where(*where).order_by(Task.created_at, Task.id).limit(limit).offset(offset)
    )
    return page.all(), total or 0
