"""Bearer tokens: only a well-formed, unexpired HS256 token of an existing user gets in."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import OutboxEvent, Task, User
from app.settings import ApiSettings
from tests.api.conftest import Account, assert_problem

pytestmark = pytest.mark.api


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(sub: str, **changes: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": sub, "iat": now, "exp": now + 300, **changes}
    return {k: v for k, v in claims.items() if v is not None}


async def _get_tasks(client: AsyncClient, authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return await client.get("/tasks", headers=headers)


def _assert_refused(response: Any) -> None:
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_valid_token_is_accepted(client: AsyncClient, alice: Account) -> None:
    assert (await _get_tasks(client, f"Bearer {alice.token}")).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "Token abc", "Bearer not.a.jwt"],
    ids=["missing", "empty", "scheme-only", "scheme-blank", "basic", "other-scheme", "garbage"],
)
async def test_requests_without_a_usable_bearer_token_are_refused(
    client: AsyncClient, authorization: str | None
) -> None:
    _assert_refused(await _get_tasks(client, authorization))


async def test_a_token_with_alg_none_is_refused(client: AsyncClient, alice: Account) -> None:
    claims = _claims(alice.id)
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    _assert_refused(await _get_tasks(client, f"Bearer {unsigned}"))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_a_token_signed_with_another_algorithm_is_refused_even_with_the_right_key(
    client: AsyncClient, alice: Account, api_settings: ApiSettings, algorithm: str
) -> None:
    token = jwt.encode(_claims(alice.id), api_settings.jwt_secret, algorithm=algorithm)

    _assert_refused(await _get_tasks(client, f"Bearer {token}"))


async def test_a_token_signed_with_another_key_is_refused(
    client: AsyncClient, alice: Account
) -> None:
    token = jwt.encode(_claims(alice.id), "another-secret-of-at-least-32-bytes!!", "HS256")

    _assert_refused(await _get_tasks(client, f"Bearer {token}"))


async def test_a_token_with_a_tampered_payload_is_refused(
    client: AsyncClient, alice: Account, bob: Account
) -> None:
    header, _, signature = alice.token.split(".")
    forged = f"{header}.{_b64(_claims(bob.id))}.{signature}"

    _assert_refused(await _get_tasks(client, f"Bearer {forged}"))


async def test_an_expired_token_is_refused(
    client: AsyncClient, alice: Account, api_settings: ApiSettings
) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    claims = _claims(alice.id, iat=past, exp=past + timedelta(hours=1))
    token = jwt.encode(claims, api_settings.jwt_secret, "HS256")

    _assert_refused(await _get_tasks(client, f"Bearer {token}"))


@pytest.mark.parametrize("missing", ["sub", "iat", "exp"])
async def test_a_token_missing_a_required_claim_is_refused(
    client: AsyncClient, alice: Account, api_settings: ApiSettings, missing: str
) -> None:
    claims = _claims(alice.id)
    del claims[missing]
    token = jwt.encode(claims, api_settings.jwt_secret, "HS256")

    _assert_refused(await _get_tasks(client, f"Bearer {token}"))


async def test_a_token_whose_subject_is_not_a_user_id_is_refused(
    client: AsyncClient, api_settings: ApiSettings
) -> None:
    token = jwt.encode(_claims("admin"), api_settings.jwt_secret, "HS256")

    _assert_refused(await _get_tasks(client, f"Bearer {token}"))


async def test_the_token_of_a_deleted_user_is_refused(
    client: AsyncClient, alice: Account, db: AsyncEngine
) -> None:
    async with db.begin() as conn:
        await conn.execute(delete(User))

    _assert_refused(await _get_tasks(client, f"Bearer {alice.token}"))


async def test_a_deleted_user_cannot_add_a_task_and_nothing_is_written(
    client: AsyncClient, alice: Account, db: AsyncEngine
) -> None:
    async with db.begin() as conn:
        await conn.execute(delete(User))
        await conn.execute(delete(OutboxEvent))  # alice's user.registered

    reply = await client.post("/tasks", json={"title": "orphan"}, headers=alice.headers)

    _assert_refused(reply)
    async with db.connect() as conn:
        tasks = await conn.scalar(select(func.count()).select_from(Task))
        events = await conn.scalar(select(func.count()).select_from(OutboxEvent))
    assert (tasks, events) == (0, 0)
