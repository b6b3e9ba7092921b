"""Registration and login over HTTP: status codes, bodies, normalisation, enumeration safety."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import jwt
import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import User
from app.settings import ApiSettings
from tests.api.conftest import PASSWORD, Account, ClientFactory, assert_problem, outbox

pytestmark = pytest.mark.api


async def test_registering_returns_the_user_without_the_password_hash(client: AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "created_at"}
    assert body["email"] == "ada@example.com"


async def test_email_is_trimmed_and_lower_cased_before_it_is_stored(
    client: AsyncClient, db: AsyncEngine
) -> None:
    response = await client.post(
        "/auth/register", json={"email": "  Ada.Lovelace@Example.COM ", "password": PASSWORD}
    )

    assert response.json()["email"] == "ada.lovelace@example.com"
    async with db.connect() as conn:
        assert await conn.scalar(select(User.email)) == "ada.lovelace@example.com"


async def test_registering_an_email_twice_answers_alike_but_keeps_one_account(
    client: AsyncClient, db: AsyncEngine
) -> None:
    first = await client.post(
        "/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    second = await client.post(
        "/auth/register", json={"email": "ADA@example.com", "password": "another password"}
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    async with db.connect() as conn:
        assert (await conn.execute(select(User.id, User.email))).all() == [
            (uuid.UUID(first.json()["id"]), "ada@example.com")
        ]
    login = await client.post(
        "/auth/login", json={"email": "ada@example.com", "password": "another password"}
    )
    assert_problem(login, 401)


async def test_concurrent_registrations_of_one_email_make_one_account_and_one_event(
    client: AsyncClient, db: AsyncEngine
) -> None:
    body = {"email": "race@example.com", "password": PASSWORD}

    responses = await asyncio.gather(*(client.post("/auth/register", json=body) for _ in range(2)))

    assert sorted(r.status_code for r in responses) == [201, 201]
    assert [row.type for row in await outbox(db)] == ["user.registered"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "ada@example.com", "password": "short"}, "password"),
        ({"email": "ada@example.com", "password": "x" * 129}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "ada@example.com", "password": PASSWORD, "is_admin": True}, "is_admin"),
    ],
    ids=["invalid-email", "password-too-short", "password-too-long", "missing-email", "extra"],
)
async def test_registration_refuses_invalid_bodies_naming_the_field(
    client: AsyncClient, body: dict[str, object], field: str
) -> None:
    problem = assert_problem(await client.post("/auth/register", json=body), 422)

    assert field in [error["loc"][-1] for error in problem["errors"]]


async def test_validation_errors_never_echo_the_password_back(client: AsyncClient) -> None:
    secret = "s3cr3t!"  # too short, so refused

    response = await client.post(
        "/auth/register", json={"email": "ada@example.com", "password": secret}
    )

    assert_problem(response, 422)
    assert secret not in response.text


async def test_login_with_json_returns_a_bearer_token(client: AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/auth/login", json={"email": alice.email, "password": alice.password}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert set(body) == {"access_token", "token_type", "expires_in"}


async def test_login_with_the_oauth2_password_form_returns_a_bearer_token(
    client: AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/auth/login",
        data={"grant_type": "password", "username": alice.email.upper(), "password": PASSWORD},
    )

    assert response.status_code == 200
    tasks = await client.get(
        "/tasks", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert tasks.status_code == 200


async def test_the_token_carries_exactly_sub_iat_and_exp(
    client: AsyncClient, alice: Account, api_settings: ApiSettings
) -> None:
    claims = jwt.decode(alice.token, api_settings.jwt_secret, algorithms=["HS256"])

    assert set(claims) == {"sub", "iat", "exp"}
    assert claims["sub"] == alice.id
    assert claims["exp"] - claims["iat"] == api_settings.jwt_ttl_seconds


async def test_unknown_email_and_wrong_password_get_the_same_401(
    client: AsyncClient, alice: Account
) -> None:
    wrong_password = await client.post(
        "/auth/login", json={"email": alice.email, "password": "not the password"}
    )
    unknown_email = await client.post(
        "/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )

    assert assert_problem(wrong_password, 401) == assert_problem(unknown_email, 401)
    assert wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]
    assert wrong_password.headers["www-authenticate"] == "Bearer"


async def test_login_refuses_unknown_fields_and_malformed_json(client: AsyncClient) -> None:
    extra = await client.post(
        "/auth/login", json={"email": "a@example.com", "password": PASSWORD, "admin": True}
    )
    malformed = await client.post(
        "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert_problem(extra, 422)
    assert_problem(malformed, 422)


async def test_logging_in_upgrades_a_hash_made_with_older_parameters(
    make_client: ClientFactory, db: AsyncEngine, new_account: Callable[..., Awaitable[Account]]
) -> None:
    account = await new_account()  # hashed with time_cost=1
    async with db.connect() as conn:
        old_hash = await conn.scalar(select(User.password_hash))
    assert old_hash is not None
    assert "t=1," in old_hash

    async with make_client(argon2_time_cost=2) as stronger:
        response = await stronger.post(
            "/auth/login", json={"email": account.email, "password": account.password}
        )

    assert response.status_code == 200
    async with db.connect() as conn:
        new_hash = await conn.scalar(select(User.password_hash))
    assert new_hash is not None
    assert "t=2," in new_hash


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "client_credentials", "username": "a@example.com", "password": PASSWORD},
        {"username": "a@example.com", "password": PASSWORD, "role": "admin"},
        {"username": "a@example.com"},
    ],
    ids=["other-grant", "unknown-field", "missing-password"],
)
async def test_the_login_form_refuses_other_grants_and_unknown_fields(
    client: AsyncClient, form: dict[str, str]
) -> None:
    assert_problem(await client.post("/auth/login", data=form), 422)
