"""Task transitions raise exactly the events that announce real changes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from app.core.events import (
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskReopened,
    TaskUpdated,
    decode_event,
)
from app.core.models import Task
from app.tasks import CREATE_TASK, apply_changes, create_task, delete_task, update_task
from tests.unit.api.fakes import FakeConnection, FakeUnitOfWork

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def a_task(*, title: str = "Buy milk", done: bool = False) -> Task:
    return Task(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        title=title,
        done=done,
        created_at=EARLIER,
        done_at=EARLIER if done else None,
    )


def test_completing_an_open_task_sets_done_at_and_raises_task_completed() -> None:
    task = a_task()

    events = apply_changes(task, done=True, now=NOW)

    assert (task.done, task.done_at) == (True, NOW)
    assert events == [
        TaskCompleted(
            user_id=task.user_id, task_id=task.id, occurred_at=NOW, event_id=events[0].event_id
        )
    ]


def test_completing_a_done_task_changes_nothing_and_raises_nothing() -> None:
    task = a_task(done=True)

    assert apply_changes(task, done=True, now=NOW) == []
    assert task.done_at == EARLIER


def test_reopening_a_task_clears_done_at_and_raises_task_reopened() -> None:
    task = a_task(done=True)

    events = apply_changes(task, done=False, now=NOW)

    assert (task.done, task.done_at) == (False, None)
    assert [type(e) for e in events] == [TaskReopened]


def test_reopening_an_open_task_raises_nothing() -> None:
    assert apply_changes(a_task(), done=False, now=NOW) == []


def test_renaming_raises_task_updated_with_the_new_title() -> None:
    task = a_task(title="old")

    events = apply_changes(task, title="new", now=NOW)

    assert task.title == "new"
    assert len(events) == 1
    assert isinstance(events[0], TaskUpdated)
    assert events[0].title == "new"


def test_setting_the_same_title_raises_nothing() -> None:
    assert apply_changes(a_task(title="same"), title="same", now=NOW) == []


def test_renaming_and_completing_raise_updated_then_completed() -> None:
    events = apply_changes(a_task(), title="new", done=True, now=NOW)

    assert [type(e) for e in events] == [TaskUpdated, TaskCompleted]
    assert {e.occurred_at for e in events} == {NOW}


async def test_creating_writes_the_task_and_its_task_created_row_in_one_statement() -> None:
    conn = FakeConnection(answer=uuid.uuid4())
    user_id = uuid.uuid4()

    task = await create_task(conn, user_id=user_id, title="Buy milk", topic="events")

    assert task is not None
    [(statement, params)] = conn.executed
    assert statement is CREATE_TASK
    assert conn.commits == 1
    assert {k: params[k] for k in ("task_id", "user_id", "title", "created_at")} == {
        "task_id": task.id,
        "user_id": user_id,
        "title": "Buy milk",
        "created_at": task.created_at,
    }
    assert (params["topic"], params["key"], params["type"]) == (
        "events",
        str(user_id),
        "task.created",
    )
    assert params["occurred_at"] == task.created_at
    event = decode_event(json.dumps(params["payload"]))
    assert isinstance(event, TaskCreated)
    assert event.event_id == params["event_id"]
    assert (event.user_id, event.task_id, event.title) == (user_id, task.id, "Buy milk")
    assert (task.done, task.done_at) == (False, None)


async def test_creating_for_a_user_that_is_gone_returns_none() -> None:
    conn = FakeConnection(answer=None)  # the statement's owner check matched no user

    task = await create_task(conn, user_id=uuid.uuid4(), title="Buy milk")

    assert task is None


async def test_a_no_op_update_does_not_commit() -> None:
    uow = FakeUnitOfWork()

    await update_task(uow=uow, task=a_task(title="same"), title="same", done=False)

    assert uow.commits == []


async def test_an_update_commits_its_events_together() -> None:
    uow = FakeUnitOfWork()

    await update_task(uow=uow, task=a_task(), title="new", done=True)

    assert [[type(e) for e in commit] for commit in uow.commits] == [[TaskUpdated, TaskCompleted]]


async def test_deleting_commits_the_removal_with_task_deleted() -> None:
    uow = FakeUnitOfWork()
    task = a_task()

    await delete_task(uow=uow, task=task)

    assert uow.session.deleted == [task]
    [[event]] = uow.commits
    assert isinstance(event, TaskDeleted)
    assert (event.user_id, event.task_id) == (task.user_id, task.id)
