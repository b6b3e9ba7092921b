"""Tasks: create, change, delete, list. Each change commits with the events that announce it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Select, bindparam, false, func, insert, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import ChangeSet, PreparedStatements, StatementRunner, UnitOfWork
from app.core.events import (
    Event,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskReopened,
    TaskUpdated,
)
from app.core.models import Base, Task
from app.core.outbox import DEFAULT_TOPIC, insert_announcements, outbox_row

TASKS_TABLE = Base.metadata.tables["tasks"]
USERS_TABLE = Base.metadata.tables["users"]


def _create_task_statement() -> Select[tuple[uuid.UUID]]:
    """The task and its `task.created` outbox row in one statement, only if the owner exists.

        WITH owner AS (SELECT users.id FROM users WHERE users.id = :user_id),
             new_task AS (INSERT INTO tasks (id, user_id, title, done, created_at)
                          SELECT :task_id, owner.id, :title, false, :created_at FROM owner
                          RETURNING tasks.id),
             announced AS (INSERT INTO outbox (event_id, topic, key, type, payload,
                                               occurred_at, headers)
                           SELECT :event_id, :topic, :key, :type, :payload, :occurred_at,
                                  :headers
                           FROM new_task)
        SELECT new_task.id FROM new_task

    It returns the task's id, or no row when the user does not exist. `:headers` carries the
    request span's trace context when tracing is on (`app.core.outbox.outbox_row`).

    One statement is one atomic transaction even in autocommit: both rows or neither, and the
    outbox trigger's NOTIFY at its commit. Built once; executions reuse the compiled SQL.
    """
    owner = select(USERS_TABLE.c.id).where(USERS_TABLE.c.id == bindparam("user_id")).cte("owner")
    new_task = (
        insert(TASKS_TABLE)
        .from_select(
            ["id", "user_id", "title", "done", "created_at"],
            select(
                bindparam("task_id", type_=TASKS_TABLE.c.id.type),
                owner.c.id,
                bindparam("title", type_=TASKS_TABLE.c.title.type),
                false(),
                bindparam("created_at", type_=TASKS_TABLE.c.created_at.type),
            ),
            include_defaults=False,
        )
        .returning(TASKS_TABLE.c.id)
        .cte("new_task")
    )
    announced = insert_announcements(new_task).cte("announced")
    # PostgreSQL runs every data-modifying CTE to completion, referenced or not; SQLAlchemy
    # renders only the CTEs a statement uses, hence `add_cte`.
    return select(new_task.c.id).add_cte(announced)


CREATE_TASK = _create_task_statement()


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


async def create_task(
    conn: StatementRunner, *, user_id: uuid.UUID, title: str, topic: str = DEFAULT_TOPIC
) -> Task | None:
    """Add a task and announce `task.created`; `None` (nothing written) if the user is gone.

    The hot write path: one statement (`CREATE_TASK`) and a commit. On an autocommit connection
    that is a single round trip; on a transactional one it is BEGIN, the statement and COMMIT.
    """
    now = datetime.now(UTC)
    task = Task(id=uuid.uuid4(), user_id=user_id, title=title, done=False, created_at=now)
    event = TaskCreated(user_id=user_id, task_id=task.id, title=title, occurred_at=now)
    params = {"task_id": task.id, "user_id": user_id, "title": title, "created_at": now}
    created = await conn.scalar(CREATE_TASK, params | outbox_row(event, topic=topic))
    await conn.commit()
    return task if created is not None else None


async def update_task(
    *, uow: UnitOfWork[ChangeSet], task: Task, title: str | None = None, done: bool | None = None
) -> Task:
    """Apply a partial update; a no-op writes nothing and announces nothing."""
    events = apply_changes(task, title=title, done=done, now=datetime.now(UTC))
    if events:
        for event in events:
            uow.add_event(event)
        await uow.commit()
    return task


async def delete_task(*, uow: UnitOfWork[ChangeSet], task: Task) -> None:
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


@dataclass(frozen=True)
class TaskCounts:
    """How many of the user's tasks are open and done, whatever the page or filter."""

    open: int
    done: int

    def matching(self, done: bool | None) -> int:
        """The total for the `done` filter (None: all)."""
        return self.open + self.done if done is None else self.done if done else self.open


def _list_tasks_statement(done: bool | None) -> Select[tuple[Any, ...]]:
    """The owner check, both counts and one page of tasks in one statement.

        WITH owner AS (SELECT users.id FROM users WHERE users.id = :user_id),
             counts AS (SELECT count(*) FILTER (WHERE NOT done) AS open_count,
                               count(*) FILTER (WHERE done) AS done_count
                        FROM tasks WHERE user_id = :user_id),
             page AS (SELECT id, title, done, created_at, done_at FROM tasks
                      WHERE user_id = :user_id [AND done = <done>]
                      ORDER BY created_at, id LIMIT :limit OFFSET :offset)
        SELECT counts.*, page.* FROM owner JOIN counts ON true LEFT JOIN page ON true
        ORDER BY page.created_at, page.id

    No row when the user does not exist; otherwise one row per task of the page, or a single
    row of counts with NULL task columns when the page is empty.
    """
    user_id = bindparam("user_id", type_=TASKS_TABLE.c.user_id.type)
    owner = select(USERS_TABLE.c.id).where(USERS_TABLE.c.id == user_id).cte("owner")
    tasks = TASKS_TABLE.c
    counts = (
        select(
            func.count().filter(~tasks.done).label("open_count"),
            func.count().filter(tasks.done).label("done_count"),
        )
        .where(tasks.user_id == user_id)
        .cte("counts")
    )
    # The filter is a constant of the statement, not a parameter, so each of the three
    # statements gets the plan of its own filter.
    where = [tasks.user_id == user_id]
    if done is not None:
        where.append(tasks.done == (true() if done else false()))
    page = (
        select(tasks.id, tasks.title, tasks.done, tasks.created_at, tasks.done_at)
        .where(*where)
        .order_by(tasks.created_at, tasks.id)
        .limit(bindparam("limit", type_=BigInteger()))
        .offset(bindparam("offset", type_=BigInteger()))
        .cte("page")
    )
    return (
        select(counts.c.open_count, counts.c.done_count, *page.c)
        .select_from(owner.join(counts, true()).outerjoin(page, true()))
        .order_by(page.c.created_at, page.c.id)
    )


#: Built once per `done` filter; executions reuse the compiled SQL.
LIST_TASKS = {done: _list_tasks_statement(done) for done in (None, True, False)}


async def list_tasks(
    conn: PreparedStatements, *, user_id: uuid.UUID, done: bool | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], TaskCounts] | None:
    """One page of the user's tasks, oldest first, and the counts of all of them; None: no user.

    The hot read path: one prepared statement (`LIST_TASKS`), a single round trip on an
    autocommit connection. Each row is a dict holding the columns of `TaskOut` (and the counts).
    """
    rows = await conn.mappings(
        LIST_TASKS[done], {"user_id": user_id, "limit": limit, "offset": offset}
    )
    if not rows:
        return None
    counts = TaskCounts(open=rows[0]["open_count"], done=rows[0]["done_count"])
    # An empty page is one row of counts whose task columns are NULL.
    return ([] if rows[0]["id"] is None else rows), counts
