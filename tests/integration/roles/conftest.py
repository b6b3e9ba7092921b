"""Engines that connect to the test database as each service role, and nothing more.

The service roles are cluster-wide and shared by every test session, so a test never changes
them: it logs in as a throwaway member of the role and runs the session as the role itself
(`-c role=...`), which gives exactly the role's privileges.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

SERVICE_ROLES = ("todo_api", "todo_scheduler", "todo_relay", "todo_mailer")


@pytest.fixture(scope="session")
def role_urls(database_url: str) -> Iterator[dict[str, str]]:
    """A login URL per service role, for a member created for this test session."""
    # No pool: other tests terminate every connection to the test database (fault tests), and a
    # pooled connection kept since set-up would then fail the tear-down.
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    suffix = uuid.uuid4().hex[:10]
    password = secrets.token_urlsafe(16)
    logins = {role: f"{role}_t{suffix}" for role in SERVICE_ROLES}
    try:
        with admin.connect() as conn:
            for role, login in logins.items():
                conn.execute(
                    text(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE {role}")
                )
        url = make_url(database_url)
        yield {
            role: url.set(username=login, password=password).render_as_string(hide_password=False)
            for role, login in logins.items()
        }
    finally:
        with admin.connect() as conn:
            for login in logins.values():
                conn.execute(text(f"DROP ROLE IF EXISTS {login}"))
        admin.dispose()


@pytest.fixture(scope="session")
async def role_engines(role_urls: dict[str, str]) -> AsyncIterator[dict[str, AsyncEngine]]:
    engines = {
        role: create_async_engine(url, connect_args={"options": f"-c role={role}"})
        for role, url in role_urls.items()
    }
    yield engines
    for engine in engines.values():
        await engine.dispose()
