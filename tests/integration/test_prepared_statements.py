"""The hot paths' runner: a prebuilt statement on the driver connection, prepared, as SQLAlchemy
would run it (its JSONB, its errors)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import PreparedStatements, make_engine
from app.core.events import TaskCreated, decode_event
from app.core.models import OutboxEvent, Task
from app.core.outbox import outbox_row
from app.tasks import CREATE_TASK, LIST_TASKS, create_task

pytestmark = pytest.mark.integration


async def _user(db: AsyncEngine) -> uuid.UUID:
    user_id = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(
            text("INSERT INTO users (id, email, password_hash) VALUES (:id, :email, 'x')"),
            {"id": user_id, "email": f"{user_id.hex}@example.com"},
        )
    return user_id


async def test_creating_a_task_through_it_writes_the_task_and_its_event_as_jsonb(
    db: AsyncEngine, database_url: str
) -> None:
    user_id = await _user(db)
    autocommit = make_engine(database_url, autocommit=True, pre_ping=False)
    try:
        for title in ("first", "second"):  # the second execution reuses the prepared statement
            async with autocommit.connect() as conn:
                task = await create_task(
                    await PreparedStatements.on(conn), user_id=user_id, title=title
                )
            assert task is not None
    finally:
        await autocommit.dispose()

    async with db.connect() as conn:
        titles = (await conn.scalars(select(Task.title).order_by(Task.created_at))).all()
        payloads = (await conn.scalars(select(OutboxEvent.payload).order_by(OutboxEvent.id))).all()
    assert titles == ["first", "second"]
    events = [decode_event(json.dumps(p)) for p in payloads]
    assert all(isinstance(e, TaskCreated) for e in events)
    assert [e.title for e in events if isinstance(e, TaskCreated)] == ["first", "second"]


async def test_a_user_that_is_gone_gets_no_row_and_nothing_is_written(
    db: AsyncEngine, database_url: str
) -> None:
    autocommit = make_engine(database_url, autocommit=True, pre_ping=False)
    try:
        async with autocommit.connect() as conn:
            task = await create_task(
                await PreparedStatements.on(conn), user_id=uuid.uuid4(), title="nobody's"
            )
    finally:
        await autocommit.dispose()

    assert task is None
    async with db.connect() as conn:
        assert (await conn.scalar(text("SELECT count(*) FROM outbox"))) == 0


async def test_a_database_error_is_sqlalchemys_exception_and_the_connection_stays_usable(
    db: AsyncEngine, database_url: str
) -> None:
    user_id = await _user(db)
    event_id = uuid.uuid4()
    autocommit = make_engine(database_url, autocommit=True, pre_ping=False, pool_size=1)
    try:
        async with autocommit.connect() as conn:
            runner = await PreparedStatements.on(conn)
            params = _params(user_id, event_id)
            assert await runner.scalar(CREATE_TASK, params) is not None
            with pytest.raises(IntegrityError):  # the same event id twice: its unique key
                await runner.scalar(CREATE_TASK, _params(user_id, event_id))
            assert await runner.scalar(CREATE_TASK, _params(user_id, uuid.uuid4())) is not None
    finally:
        await autocommit.dispose()


def _params(user_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, object]:
    event = TaskCreated(user_id=user_id, task_id=uuid.uuid4(), title="t", event_id=event_id)
    task = {"task_id": event.task_id, "user_id": user_id, "title": "t"}
    return task | {"created_at": event.occurred_at} | outbox_row(event)


async def test_rows_come_as_dicts_by_column_and_errors_as_sqlalchemys(
    db: AsyncEngine, database_url: str
) -> None:
    user_id = await _user(db)
    autocommit = make_engine(database_url, autocommit=True, pre_ping=False, pool_size=1)
    try:
        async with autocommit.connect() as conn:
            runner = await PreparedStatements.on(conn)
            for title in ("first", "second"):
                await create_task(runner, user_id=user_id, title=title)
            page = {"user_id": user_id, "limit": 1, "offset": 1}
            rows = await runner.mappings(LIST_TASKS[None], page)
            assert [(r["title"], r["open_count"], r["done_count"]) for r in rows] == [
                ("second", 2, 0)
            ]
            with pytest.raises(DataError):  # PostgreSQL refuses a negative LIMIT
                await runner.mappings(LIST_TASKS[None], page | {"limit": -1})
            assert len(await runner.mappings(LIST_TASKS[False], page | {"offset": 0})) == 1
    finally:
        await autocommit.dispose()
