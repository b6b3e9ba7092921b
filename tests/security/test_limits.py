"""Floods and races: the login and registration limits hold, waits are bounded, bodies capped."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import PASSWORD, Account, ClientFactory, assert_problem

pytestmark = pytest.mark.security

GUESSES = 40


async def test_simultaneous_wrong_guesses_check_at_most_the_limit_of_passwords(
    make_client: ClientFactory, alice: Account
) -> None:
    # Enough connections that all 40 guesses are in flight at once.
    async with make_client(db_pool_size=20, login_max_failures=5) as client:
        guess = {"email": alice.email, "password": "wrong password"}
        responses = await asyncio.gather(
            *(client.post("/auth/login", json=guess) for _ in range(GUESSES))
        )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {401: 5, 429: GUESSES - 5}
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)


async def test_a_successful_login_is_not_counted_as_a_failure(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client(login_max_failures=2, login_max_failures_per_client=2) as client:
        for _ in range(5):
            good = {"email": alice.email, "password": alice.password}
            assert (await client.post("/auth/login", json=good)).status_code == 200


async def test_registration_from_one_address_is_limited_then_answered_with_retry_after(
    make_client: ClientFactory,
) -> None:
    async with make_client(register_max_per_client=3, client_address="203.0.113.7") as flood:
        statuses = [
            (await flood.post("/auth/register", json=_registration(i))).status_code
            for i in range(5)
        ]
        refused = await flood.post("/auth/register", json=_registration(99))
    async with make_client(register_max_per_client=3, client_address="203.0.113.8") as other:
        elsewhere = await other.post("/auth/register", json=_registration(100))

    assert statuses == [201, 201, 201, 429, 429]
    assert_problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert elsewhere.status_code == 201


async def test_registrations_from_many_addresses_share_a_global_budget(
    make_client: ClientFactory,
) -> None:
    limits = {"register_max_per_client": 100, "register_max_total": 4}
    statuses = []
    for n in range(6):
        async with make_client(client_address=f"198.51.100.{n}", **limits) as client:
            statuses.append(
                (await client.post("/auth/register", json=_registration(n))).status_code
            )

    assert statuses == [201, 201, 201, 201, 429, 429]


async def test_registering_a_taken_address_answers_exactly_like_a_new_one(
    client: AsyncClient, new_account: Callable[..., Awaitable[Account]]
) -> None:
    taken = await new_account(email="taken@example.com")

    fresh = await client.post("/auth/register", json=_registration("fresh"))
    again = await client.post(
        "/auth/register", json={"email": taken.email, "password": "a different one"}
    )

    assert fresh.status_code == again.status_code == 201
    assert _shape(fresh.json()) == _shape(again.json())
    assert set(fresh.headers) == set(again.headers)
    assert again.json()["email"] == taken.email


@pytest.fixture
async def locked_task(
    client: AsyncClient, alice: Account, db: AsyncEngine
) -> AsyncIterator[dict[str, Any]]:
    """Alice's task, its row locked by another transaction until the test ends."""
    task = (await client.post("/tasks", json={"title": "held"}, headers=alice.headers)).json()
    async with db.connect() as conn:
        await conn.execute(
            text("SELECT 1 FROM tasks WHERE id = :id FOR UPDATE"), {"id": task["id"]}
        )
        yield task
        await conn.rollback()


async def test_a_request_waiting_on_a_lock_ends_at_the_lock_timeout_with_a_503(
    make_client: ClientFactory,
    database_url: str,
    alice: Account,
    locked_task: dict[str, Any],
) -> None:
    url = f"{database_url}?options=-c%20lock_timeout%3D200"
    async with make_client(database_url=url) as client:
        response = await client.patch(
            f"/tasks/{locked_task['id']}", json={"done": True}, headers=alice.headers
        )

    assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"


async def test_an_exhausted_connection_pool_is_a_503_with_retry_after(
    make_client: ClientFactory, alice: Account, locked_task: dict[str, Any]
) -> None:
    async with make_client(db_pool_size=1, db_pool_timeout_seconds=0.3) as client:
        # The only pooled connection waits on the locked row...
        holder = asyncio.create_task(
            client.patch(f"/tasks/{locked_task['id']}", json={"done": True}, headers=alice.headers)
        )
        await asyncio.sleep(0.3)
        # ...so the next request that needs a transaction finds the pool empty.
        response = await client.patch("/me", json={"digest_enabled": True}, headers=alice.headers)
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder

    assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"


async def test_a_body_over_the_limit_is_a_413_by_its_length_or_as_it_streams(
    make_client: ClientFactory, alice: Account
) -> None:
    big = b'{"title": "' + b"x" * 70_000 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    async with make_client(api_max_body_bytes=64 * 1024) as client:
        declared = await client.post(
            "/tasks", content=big, headers={**alice.headers, "content-type": "application/json"}
        )
        streamed = await client.post(
            "/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )

    assert_problem(declared, 413)
    assert_problem(streamed, 413)


async def test_every_api_response_says_no_store(client: AsyncClient, alice: Account) -> None:
    responses = [
        await client.post("/auth/login", json={"email": alice.email, "password": alice.password}),
        await client.post("/auth/login", json={"email": alice.email, "password": "wrong pass"}),
        await client.get("/tasks", headers=alice.headers),
        await client.get("/tasks"),
        await client.post("/tasks", json={}, headers=alice.headers),
        await client.get("/no-such-path"),
        await client.get("/healthz"),
    ]

    assert [r.headers.get("cache-control") for r in responses] == ["no-store"] * len(responses)


@pytest.mark.parametrize("path", ["/tasks/", "/auth/login/", "/healthz/"])
async def test_no_redirect_follows_the_clients_host_header(
    client: AsyncClient, alice: Account, path: str
) -> None:
    response = await client.get(path, headers={**alice.headers, "Host": "evil.example"})

    assert not response.is_redirect
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/tasks", {"GET", "POST"}),
        ("/tasks/00000000-0000-4000-8000-000000000000", {"PATCH", "DELETE"}),
        ("/auth/login", {"POST"}),
    ],
)
async def test_a_method_not_allowed_lists_every_method_of_the_path(
    client: AsyncClient, path: str, allowed: set[str]
) -> None:
    response = await client.request("OPTIONS", path)

    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == allowed


async def test_production_can_switch_the_docs_off(make_client: ClientFactory) -> None:
    async with make_client(api_docs_enabled=False) as client:
        statuses = [(await client.get(p)).status_code for p in ("/docs", "/redoc", "/openapi.json")]

    assert statuses == [404, 404, 404]


def _registration(n: object) -> dict[str, str]:
    return {"email": f"flood-{n}@example.com", "password": PASSWORD}


def _shape(body: dict[str, Any]) -> dict[str, str]:
    return {key: type(value).__name__ for key, value in body.items()}
