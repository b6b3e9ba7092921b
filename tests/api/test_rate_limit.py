"""Failed logins are limited per email and per client address, in PostgreSQL (429 + Retry-After)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import LoginAttempts
from tests.api.conftest import Account, ClientFactory, assert_problem

pytestmark = pytest.mark.api

LIMIT = 3  # login_max_failures in api_settings
WINDOW_SECONDS = 60


async def _login(client: AsyncClient, email: str, password: str) -> Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def _fail(client: AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        assert (await _login(client, email, "wrong password")).status_code == 401


def _assert_limited(response: Response) -> None:
    assert_problem(response, 429)
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW_SECONDS


async def test_an_email_at_its_failure_limit_is_refused_even_with_the_right_password(
    client: AsyncClient, alice: Account
) -> None:
    await _fail(client, alice.email, LIMIT)

    _assert_limited(await _login(client, alice.email, alice.password))


async def test_an_unknown_email_is_limited_like_a_known_one(client: AsyncClient) -> None:
    await _fail(client, "nobody@example.com", LIMIT)

    _assert_limited(await _login(client, "nobody@example.com", "wrong password"))


async def test_a_success_below_the_limit_starts_the_email_count_again(
    client: AsyncClient, alice: Account
) -> None:
    await _fail(client, alice.email, LIMIT - 1)
    assert (await _login(client, alice.email, alice.password)).status_code == 200

    await _fail(client, alice.email, LIMIT - 1)

    assert (await _login(client, alice.email, alice.password)).status_code == 200


async def test_the_email_limit_lifts_when_its_window_has_passed(
    client: AsyncClient, alice: Account, db: AsyncEngine
) -> None:
    await _fail(client, alice.email, LIMIT)
    async with db.begin() as conn:
        await conn.execute(
            update(LoginAttempts).values(
                window_started_at=LoginAttempts.window_started_at
                - timedelta(seconds=WINDOW_SECONDS)
            )
        )

    assert (await _login(client, alice.email, alice.password)).status_code == 200


async def test_one_client_address_failing_across_many_emails_is_limited(
    make_client: ClientFactory,
) -> None:
    async with make_client(client_address="203.0.113.7", login_max_failures_per_client=4) as c:
        for n in range(4):
            assert (await _login(c, f"guess-{n}@example.com", "wrong password")).status_code == 401

        _assert_limited(await _login(c, "guess-fresh@example.com", "wrong password"))

    async with make_client(client_address="198.51.100.9", login_max_failures_per_client=4) as c:
        assert (await _login(c, "guess-fresh@example.com", "wrong password")).status_code == 401


async def test_the_limit_is_shared_by_separate_app_instances(
    make_client: ClientFactory, alice: Account
) -> None:
    async with make_client() as worker_one, make_client() as worker_two:
        await _fail(worker_one, alice.email, LIMIT - 1)
        await _fail(worker_two, alice.email, 1)

        _assert_limited(await _login(worker_one, alice.email, alice.password))
