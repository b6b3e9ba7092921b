"""Object-level authorisation and mass assignment: nobody reaches or sets what is not theirs."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import Task
from tests.api.conftest import PASSWORD, Account, assert_problem

pytestmark = pytest.mark.security

SERVER_OWNED = {
    "id": "00000000-0000-4000-8000-000000000001",
    "user_id": "00000000-0000-4000-8000-000000000002",
    "done_at": "2026-01-01T00:00:00Z",
    "created_at": "2026-01-01T00:00:00Z",
}


@pytest.fixture
async def alices_task(client: AsyncClient, alice: Account) -> dict[str, Any]:
    response = await client.post("/tasks", json={"title": "alice's"}, headers=alice.headers)
    task: dict[str, Any] = response.json()
    return task


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"done": True}), ("PATCH", {"title": "mine now"}), ("DELETE", None)],
)
async def test_another_users_task_is_a_404_and_stays_as_it_was(  # noqa: PLR0917
    client: AsyncClient,
    bob: Account,
    alices_task: dict[str, Any],
    db: AsyncEngine,
    method: str,
    body: dict[str, Any] | None,
) -> None:
    response = await client.request(
        method, f"/tasks/{alices_task['id']}", json=body, headers=bob.headers
    )

    assert_problem(response, 404)
    async with db.connect() as conn:
        row = (await conn.execute(select(Task.title, Task.done))).one()
    assert tuple(row) == ("alice's", False)


async def test_another_users_tasks_never_appear_in_a_list(
    client: AsyncClient, bob: Account, alices_task: dict[str, Any]
) -> None:
    for query in ("", "?done=false", "?limit=500", "?user_id=" + alices_task["id"]):
        response = await client.get(f"/tasks{query}", headers=bob.headers)
        assert response.status_code in {200, 422}
        if response.status_code == 200:
            assert response.json() == []


@pytest.mark.parametrize("field", sorted(SERVER_OWNED))
async def test_server_owned_fields_cannot_be_set_on_create_or_patch(
    client: AsyncClient, alice: Account, alices_task: dict[str, Any], field: str
) -> None:
    extra = {field: SERVER_OWNED[field]}

    created = await client.post("/tasks", json={"title": "x", **extra}, headers=alice.headers)
    patched = await client.patch(
        f"/tasks/{alices_task['id']}", json={"done": True, **extra}, headers=alice.headers
    )

    assert_problem(created, 422)
    assert_problem(patched, 422)


@pytest.mark.parametrize("extra", [{"id": SERVER_OWNED["id"]}, {"is_admin": True}, {"role": "x"}])
async def test_registration_takes_no_field_beyond_email_and_password(
    client: AsyncClient, extra: dict[str, Any]
) -> None:
    body = {"email": "mallory@example.com", "password": PASSWORD, **extra}

    assert_problem(await client.post("/auth/register", json=body), 422)
