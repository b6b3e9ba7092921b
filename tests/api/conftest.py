"""The API in-process (httpx over ASGI, lifespan and all) against this session's PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.api.main import create_app
from app.core.models import OutboxEvent
from app.settings import ApiSettings

PASSWORD = "correct horse battery staple"

ClientFactory = Callable[..., AbstractAsyncContextManager[AsyncClient]]


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def api_settings(database_url: str) -> ApiSettings:
    """Cheap argon2 and a small login limit, so tests stay fast and reach the limit quickly."""
    return ApiSettings(
        database_url=database_url,
        db_pool_size=5,
        # Long enough for HS512 too, so the algorithm-confusion tests sign without warnings.
        jwt_secret="test-secret-" + "k" * 60,
        argon2_memory_kib=8 * 1024,
        argon2_time_cost=1,
        argon2_parallelism=1,
        login_max_failures=3,
        login_max_failures_per_client=1000,
        login_failure_window_seconds=60,
    )


@pytest.fixture
def make_client(db: AsyncEngine, api_settings: ApiSettings) -> ClientFactory:
    """Open a client on a fresh app; keyword arguments override settings."""

    @asynccontextmanager
    async def open_client(
        *,
        client_address: str = "127.0.0.1",
        root_path: str = "",
        raise_app_exceptions: bool = True,
        **overrides: Any,
    ) -> AsyncIterator[AsyncClient]:
        app = create_app(api_settings.model_copy(update=overrides))
        transport = ASGITransport(
            app=app,
            client=(client_address, 50000),
            root_path=root_path,
            raise_app_exceptions=raise_app_exceptions,
        )
        async with (
            LifespanManager(app),
            AsyncClient(transport=transport, base_url="http://api.test") as client,
        ):
            yield client

    return open_client


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[AsyncClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
def new_account(client: AsyncClient) -> Callable[..., Awaitable[Account]]:
    """Register and log in a fresh user."""

    async def register(email: str | None = None, password: str = PASSWORD) -> Account:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        registered = await client.post(
            "/auth/register", json={"email": email, "password": password}
        )
        assert registered.status_code == 201, registered.text
        login = await client.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        return Account(
            id=registered.json()["id"],
            email=email,
            password=password,
            token=login.json()["access_token"],
        )

    return register


@pytest.fixture
async def alice(new_account: Callable[..., Awaitable[Account]]) -> Account:
    return await new_account()


@pytest.fixture
async def bob(new_account: Callable[..., Awaitable[Account]]) -> Account:
    return await new_account()


async def outbox(engine: AsyncEngine) -> list[OutboxEvent]:
    """Every outbox row, in publication order."""
    async with AsyncSession(engine) as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is the one error shape, with this status; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    return body
