"""The digest runs under the scheduler's own role: SELECT on users and tasks, INSERT on outbox."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.db import make_engine, make_session_factory
from scheduler.digest import DigestOptions, run_digest
from tests.integration.scheduler.conftest import ReadDigests
from tests.integration.scheduler.factories import create_users

pytestmark = pytest.mark.integration

#: Exactly the grants docs/scheduler.md asks the deployment to give the scheduler's role.
SCHEDULER_GRANTS = ("GRANT SELECT ON users, tasks TO {role}", "GRANT INSERT ON outbox TO {role}")


@pytest.fixture
async def scheduler_engine(db: AsyncEngine, database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine logged in as a fresh role holding only the scheduler's grants."""
    role, password = f"scheduler_test_{uuid.uuid4().hex[:10]}", secrets.token_hex(16)
    async with db.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        for grant in SCHEDULER_GRANTS:
            await conn.execute(text(grant.format(role=role)))
    url = make_url(database_url).set(username=role, password=password)
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()
        async with db.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))


async def test_digest_run_and_rerun_need_no_more_than_the_scheduler_grants(
    session_factory: async_sessionmaker[AsyncSession],
    scheduler_engine: AsyncEngine,
    read_digests: ReadDigests,
) -> None:
    await create_users(session_factory, 5, tasks=2)
    as_scheduler = make_session_factory(scheduler_engine)
    options = DigestOptions(page_size=2)

    first = await run_digest(session_factory=as_scheduler, day=date(2026, 1, 1), options=options)
    again = await run_digest(session_factory=as_scheduler, day=date(2026, 1, 1), options=options)

    assert (first.enqueued, again.existing) == (5, 5)
    assert len(await read_digests()) == 5


async def test_the_scheduler_role_cannot_read_the_outbox(scheduler_engine: AsyncEngine) -> None:
    async with scheduler_engine.connect() as conn:
        with pytest.raises(ProgrammingError, match="permission denied"):
            await conn.execute(text("SELECT event_id FROM outbox"))
