"""The API works with nothing more than the `todo_api` role's grants (migration 0003)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError

from tests.api.conftest import PASSWORD, ClientFactory

pytestmark = pytest.mark.api


@pytest.fixture
def api_role_url(admin_url: str, database_url: str) -> Iterator[str]:
    """A login of this test's own that holds exactly the privileges of `todo_api`."""
    role = f"api_grants_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER INHERIT IN ROLE todo_api"))
    try:
        yield make_url(database_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


async def test_every_endpoint_works_with_only_the_api_roles_grants(
    make_client: ClientFactory, api_role_url: str
) -> None:
    credentials = {"email": "least@example.com", "password": PASSWORD}
    async with make_client(database_url=api_role_url) as client:
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.post("/auth/register", json=credentials)).status_code == 201
        wrong = {**credentials, "password": "wrong password"}
        assert (await client.post("/auth/login", json=wrong)).status_code == 401
        login = await client.post("/auth/login", json=credentials)
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        task = (await client.post("/tasks", json={"title": "t"}, headers=headers)).json()
        url = f"/tasks/{task['id']}"
        assert (await client.get("/tasks", headers=headers)).status_code == 200
        assert (await client.patch(url, json={"done": True}, headers=headers)).status_code == 200
        assert (await client.delete(url, headers=headers)).status_code == 204


def test_the_api_role_cannot_read_the_events_it_writes(api_role_url: str) -> None:
    engine = create_engine(api_role_url)
    try:
        with engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("SELECT payload FROM outbox"))
    finally:
        engine.dispose()
