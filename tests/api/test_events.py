"""Every state change writes exactly its contracted event to the outbox, in the same transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from httpx import AsyncClient
from sqlalchemy import func, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import OutboxEvent, Task
from tests.api.conftest import PASSWORD, Account, ClientFactory, outbox

pytestmark = pytest.mark.api


def _iso(row: OutboxEvent) -> str:
    return row.occurred_at.isoformat().replace("+00:00", "Z")


def _envelope(row: OutboxEvent, type_: str, user_id: str) -> dict[str, Any]:
    return {
        "event_id": str(row.event_id),
        "type": type_,
        "occurred_at": _iso(row),
        "user_id": user_id,
    }


async def _single_new_event(db: AsyncEngine, seen: int) -> OutboxEvent:
    rows = await outbox(db)
    assert len(rows) == seen + 1, [r.type for r in rows[seen:]]
    row = rows[-1]
    assert row.key == row.payload["user_id"]
    assert row.type == row.payload["type"]
    assert row.topic == "events"
    assert row.published_at is None
    return row


async def test_registering_writes_user_registered(client: AsyncClient, db: AsyncEngine) -> None:
    response = await client.post(
        "/auth/register", json={"email": " Ada@Example.com", "password": PASSWORD}
    )
    user = response.json()

    row = await _single_new_event(db, 0)

    assert row.payload == {
        **_envelope(row, "user.registered", user["id"]),
        "email": "ada@example.com",
    }


async def test_creating_a_task_writes_task_created(
    client: AsyncClient, alice: Account, db: AsyncEngine
) -> None:
    seen = len(await outbox(db))
    task = (await client.post("/tasks", json={"title": " Buy milk "}, headers=alice.headers)).json()

    row = await _single_new_event(db, seen)

    assert row.payload == {
        **_envelope(row, "task.created", alice.id),
        "task_id": task["id"],
        "title": "Buy milk",
    }
    assert _iso(row) == task["created_at"].replace("+00:00", "Z")


@pytest.fixture
async def task(client: AsyncClient, alice: Account) -> dict[str, Any]:
    response = await client.post("/tasks", json={"title": "Buy milk"}, headers=alice.headers)
    task: dict[str, Any] = response.json()
    return task


async def test_renaming_writes_task_updated_with_the_new_title(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    seen = len(await outbox(db))
    await client.patch(
        f"/tasks/{task['id']}", json={"title": "Buy oat milk"}, headers=alice.headers
    )

    row = await _single_new_event(db, seen)

    assert row.payload == {
        **_envelope(row, "task.updated", alice.id),
        "task_id": task["id"],
        "title": "Buy oat milk",
    }


async def test_completing_writes_task_completed(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    seen = len(await outbox(db))
    await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=alice.headers)

    row = await _single_new_event(db, seen)

    assert row.payload == {**_envelope(row, "task.completed", alice.id), "task_id": task["id"]}


async def test_reopening_writes_task_reopened(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=alice.headers)
    seen = len(await outbox(db))
    await client.patch(f"/tasks/{task['id']}", json={"done": False}, headers=alice.headers)

    row = await _single_new_event(db, seen)

    assert row.payload == {**_envelope(row, "task.reopened", alice.id), "task_id": task["id"]}


async def test_deleting_writes_task_deleted(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    seen = len(await outbox(db))
    await client.delete(f"/tasks/{task['id']}", headers=alice.headers)

    row = await _single_new_event(db, seen)

    assert row.payload == {**_envelope(row, "task.deleted", alice.id), "task_id": task["id"]}


async def test_renaming_and_completing_at_once_writes_both_events_in_order(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    seen = len(await outbox(db))
    await client.patch(
        f"/tasks/{task['id']}", json={"title": "Renamed", "done": True}, headers=alice.headers
    )

    assert [row.type for row in (await outbox(db))[seen:]] == ["task.updated", "task.completed"]


@pytest.mark.parametrize(
    "body",
    [{}, {"title": "Buy milk"}, {"title": "  Buy milk  "}, {"done": False}],
    ids=["empty", "same-title", "same-title-padded", "already-undone"],
)
async def test_a_patch_that_changes_nothing_writes_no_event(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine, body: Any
) -> None:
    seen = len(await outbox(db))

    response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)

    assert response.json() == task
    assert len(await outbox(db)) == seen


async def test_completing_a_done_task_again_writes_no_second_event(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    first = await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=alice.headers)
    seen = len(await outbox(db))

    again = await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=alice.headers)

    assert again.json() == first.json()
    assert len(await outbox(db)) == seen


@pytest.fixture
async def commit_fails_on_outbox(db: AsyncEngine) -> AsyncIterator[None]:
    """A deferred constraint trigger: the row and the event are written, then COMMIT fails."""
    async with db.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'injected commit failure'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON outbox "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()"
            )
        )
    try:
        yield
    finally:
        async with db.begin() as conn:
            await conn.execute(text("DROP TRIGGER fail_at_commit ON outbox"))
            await conn.execute(text("DROP FUNCTION fail_at_commit()"))


async def test_a_failing_commit_leaves_neither_the_task_nor_its_event(
    make_client: ClientFactory, alice: Account, db: AsyncEngine, commit_fails_on_outbox: None
) -> None:
    seen = len(await outbox(db))

    async with make_client(raise_app_exceptions=False) as client:
        response = await client.post("/tasks", json={"title": "doomed"}, headers=alice.headers)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert len(await outbox(db)) == seen
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Task)) == 0


async def test_a_committed_change_wakes_the_relay_through_notify(
    client: AsyncClient, alice: Account, database_url: str
) -> None:
    url = make_url(database_url).set(drivername="postgresql")
    async with await psycopg.AsyncConnection.connect(
        url.render_as_string(hide_password=False), autocommit=True
    ) as listener:
        await listener.execute("LISTEN outbox")

        await client.post("/tasks", json={"title": "wake up"}, headers=alice.headers)

        channels = [n.channel async for n in listener.notifies(timeout=10, stop_after=1)]
    assert channels == ["outbox"]


async def test_concurrent_completions_of_one_task_write_one_event(
    client: AsyncClient, alice: Account, task: dict[str, Any], db: AsyncEngine
) -> None:
    seen = len(await outbox(db))
    url = f"/tasks/{task['id']}"

    responses = await asyncio.gather(
        *(client.patch(url, json={"done": True}, headers=alice.headers) for _ in range(4))
    )

    assert {r.status_code for r in responses} == {200}
    assert [row.type for row in (await outbox(db))[seen:]] == ["task.completed"]


async def test_events_go_to_the_configured_kafka_topic(
    make_client: ClientFactory, db: AsyncEngine
) -> None:
    async with make_client(kafka_topic="todo-events") as client:
        response = await client.post(
            "/auth/register", json={"email": "topic@example.com", "password": PASSWORD}
        )
        assert response.status_code == 201

    rows = await outbox(db)
    assert [(r.type, r.topic) for r in rows] == [("user.registered", "todo-events")]
