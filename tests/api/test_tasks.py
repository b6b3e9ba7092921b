"""Tasks over HTTP: CRUD, validation, ownership, pagination and filters."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import Task
from tests.api.conftest import Account, assert_problem

pytestmark = pytest.mark.api


async def _create(client: AsyncClient, account: Account, title: str = "Buy milk") -> Any:
    response = await client.post("/tasks", json={"title": title}, headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_creating_a_task_returns_it_not_done(client: AsyncClient, alice: Account) -> None:
    task = await _create(client, alice, "  Buy milk  ")

    assert set(task) == {"id", "title", "done", "created_at", "done_at"}
    assert task["title"] == "Buy milk"
    assert task["done"] is False
    assert task["done_at"] is None


async def test_listing_returns_only_the_callers_tasks(
    client: AsyncClient, alice: Account, bob: Account
) -> None:
    mine = await _create(client, alice, "mine")
    await _create(client, bob, "theirs")

    response = await client.get("/tasks", headers=alice.headers)

    assert response.json() == [mine]
    assert response.headers["x-total-count"] == "1"


async def test_completing_a_task_sets_done_at(client: AsyncClient, alice: Account) -> None:
    task = await _create(client, alice)

    response = await client.patch(
        f"/tasks/{task['id']}", json={"done": True}, headers=alice.headers
    )

    assert response.status_code == 200
    assert response.json()["done"] is True
    assert response.json()["done_at"] is not None


async def test_reopening_a_task_clears_done_at(client: AsyncClient, alice: Account) -> None:
    task = await _create(client, alice)
    await client.patch(f"/tasks/{task['id']}", json={"done": True}, headers=alice.headers)

    response = await client.patch(
        f"/tasks/{task['id']}", json={"done": False}, headers=alice.headers
    )

    assert response.json()["done"] is False
    assert response.json()["done_at"] is None


async def test_renaming_a_task_keeps_its_other_fields(client: AsyncClient, alice: Account) -> None:
    task = await _create(client, alice, "old")

    response = await client.patch(
        f"/tasks/{task['id']}", json={"title": " new "}, headers=alice.headers
    )

    assert response.json() == {**task, "title": "new"}


async def test_deleting_a_task_removes_it(client: AsyncClient, alice: Account) -> None:
    task = await _create(client, alice)

    response = await client.delete(f"/tasks/{task['id']}", headers=alice.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get("/tasks", headers=alice.headers)).json() == []
    assert_problem(await client.delete(f"/tasks/{task['id']}", headers=alice.headers), 404)


async def test_another_users_task_is_indistinguishable_from_a_missing_one(
    client: AsyncClient, alice: Account, bob: Account, db: AsyncEngine
) -> None:
    task = await _create(client, alice, "private")
    url = f"/tasks/{task['id']}"

    changed = await client.patch(url, json={"title": "hijacked", "done": True}, headers=bob.headers)
    deleted = await client.delete(url, headers=bob.headers)
    missing = await client.delete(f"/tasks/{uuid.uuid4()}", headers=bob.headers)

    assert (
        assert_problem(changed, 404) == assert_problem(deleted, 404) == assert_problem(missing, 404)
    )
    assert (await client.get("/tasks", headers=bob.headers)).json() == []
    async with db.connect() as conn:
        row = (await conn.execute(select(Task.title, Task.done))).one()
    assert tuple(row) == ("private", False)


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "user_id": "00000000-0000-0000-0000-000000000001"},
        {"title": "x", "id": "00000000-0000-0000-0000-000000000001"},
        {"title": "x", "done_at": "2020-01-01T00:00:00Z"},
        {"title": "x", "done": True},
    ],
    ids=["user_id", "id", "done_at", "done"],
)
async def test_creating_a_task_refuses_server_owned_fields(
    client: AsyncClient, alice: Account, body: dict[str, object]
) -> None:
    assert_problem(await client.post("/tasks", json=body, headers=alice.headers), 422)


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "00000000-0000-0000-0000-000000000001"},
        {"done_at": None},
        {"title": None},
        {"done": None},
        {"done": "yes"},
        {"title": "   "},
        {"title": "x" * 501},
    ],
    ids=["user_id", "done_at", "null-title", "null-done", "string-done", "blank", "too-long"],
)
async def test_patching_refuses_invalid_or_server_owned_fields(
    client: AsyncClient, alice: Account, body: dict[str, object]
) -> None:
    task = await _create(client, alice)

    response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)

    assert_problem(response, 422)


@pytest.mark.parametrize("title", ["", "   ", "x" * 501], ids=["empty", "whitespace", "too-long"])
async def test_titles_must_have_1_to_500_characters_after_trimming(
    client: AsyncClient, alice: Account, title: str
) -> None:
    assert_problem(await client.post("/tasks", json={"title": title}, headers=alice.headers), 422)


async def test_a_title_of_exactly_500_characters_is_accepted(
    client: AsyncClient, alice: Account
) -> None:
    assert (await _create(client, alice, "x" * 500))["title"] == "x" * 500


@pytest.mark.parametrize(
    "title",
    [
        "'; DROP TABLE tasks; --",
        '<script>alert("x")</script>',
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "émoji ✅ and 中文",
    ],
    ids=["sql", "html", "sql-quote", "unicode"],
)
async def test_titles_are_stored_and_returned_verbatim(
    client: AsyncClient, alice: Account, title: str
) -> None:
    await _create(client, alice, title)

    assert [t["title"] for t in (await client.get("/tasks", headers=alice.headers)).json()] == [
        title
    ]


async def test_a_task_id_that_is_not_a_uuid_is_a_validation_error(
    client: AsyncClient, alice: Account
) -> None:
    problem = assert_problem(
        await client.patch("/tasks/42", json={"done": True}, headers=alice.headers), 422
    )

    assert problem["errors"][0]["loc"] == ["path", "task_id"]


async def test_pages_follow_creation_order_and_report_the_total(
    client: AsyncClient, alice: Account
) -> None:
    created = [(await _create(client, alice, f"task {n}"))["id"] for n in range(5)]

    pages = [
        await client.get("/tasks", params={"limit": 2, "offset": offset}, headers=alice.headers)
        for offset in (0, 2, 4, 6)
    ]

    assert [[t["id"] for t in page.json()] for page in pages] == [
        created[0:2],
        created[2:4],
        created[4:5],
        [],
    ]
    assert {page.headers["x-total-count"] for page in pages} == {"5"}


async def test_the_done_filter_applies_to_the_page_and_the_total(
    client: AsyncClient, alice: Account
) -> None:
    ids = [(await _create(client, alice, f"task {n}"))["id"] for n in range(3)]
    await client.patch(f"/tasks/{ids[1]}", json={"done": True}, headers=alice.headers)

    done = await client.get("/tasks", params={"done": "true"}, headers=alice.headers)
    undone = await client.get("/tasks", params={"done": "false"}, headers=alice.headers)

    assert [t["id"] for t in done.json()] == [ids[1]]
    assert done.headers["x-total-count"] == "1"
    assert [t["id"] for t in undone.json()] == [ids[0], ids[2]]
    assert undone.headers["x-total-count"] == "2"


async def test_every_page_carries_the_open_and_done_counts_of_all_the_callers_tasks(
    client: AsyncClient, alice: Account, bob: Account
) -> None:
    ids = [(await _create(client, alice, f"task {n}"))["id"] for n in range(3)]
    await _create(client, bob, "not alice's")
    await client.patch(f"/tasks/{ids[0]}", json={"done": True}, headers=alice.headers)

    queries: list[dict[str, str | int]] = [
        {},
        {"done": "true"},
        {"done": "false", "limit": 1},
        {"offset": 10},
    ]
    pages = [await client.get("/tasks", params=q, headers=alice.headers) for q in queries]

    assert [
        (p.headers["x-total-count"], p.headers["x-open-count"], p.headers["x-done-count"])
        for p in pages
    ] == [("3", "2", "1"), ("1", "2", "1"), ("2", "2", "1"), ("3", "2", "1")]


async def test_a_user_without_tasks_gets_zero_counts(client: AsyncClient, alice: Account) -> None:
    response = await client.get("/tasks", headers=alice.headers)

    assert response.json() == []
    assert [response.headers[f"x-{name}-count"] for name in ("total", "open", "done")] == [
        "0",
        "0",
        "0",
    ]


async def test_the_openapi_document_describes_the_count_headers(client: AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    headers = schema["paths"]["/tasks"]["get"]["responses"]["200"]["headers"]
    assert set(headers) == {"X-Total-Count", "X-Open-Count", "X-Done-Count"}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"offset": -1}, {"done": "maybe"}, {"limit": "many"}],
    ids=["limit-0", "limit-501", "negative-offset", "bad-done", "bad-limit"],
)
async def test_out_of_range_paging_is_a_validation_error(
    client: AsyncClient, alice: Account, params: dict[str, str | int]
) -> None:
    assert_problem(await client.get("/tasks", params=params, headers=alice.headers), 422)


async def test_the_largest_page_is_500(client: AsyncClient, alice: Account) -> None:
    response = await client.get("/tasks", params={"limit": 500}, headers=alice.headers)

    assert response.status_code == 200
