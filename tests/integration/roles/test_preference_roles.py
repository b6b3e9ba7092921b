"""Digest preferences under the service roles: no new grant, and none of it leaks to the others."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import SqlAlchemyUnitOfWork, make_session_factory
from app.preferences import disable_digest_for_emails, update_preferences
from scheduler.digest import DigestOptions, run_due_digests
from scheduler.due import Window

pytestmark = pytest.mark.integration


async def _seed_user(db: AsyncEngine, *, timezone: str = "UTC") -> uuid.UUID:
    user_id = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (id, email, password_hash, timezone) "
                "VALUES (:id, :email, 'x', :zone)"
            ),
            {"id": user_id, "email": f"{user_id}@example.com", "zone": timezone},
        )
    return user_id


async def _refused(engine: AsyncEngine, statement: str) -> bool:
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    except exc.ProgrammingError as error:
        return getattr(error.orig, "sqlstate", None) == "42501"
    return False


async def test_the_api_role_changes_preferences_and_announces_them(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine]
) -> None:
    user_id = await _seed_user(db)
    sessions = make_session_factory(role_engines["todo_api"])

    async with SqlAlchemyUnitOfWork(sessions) as uow:
        await update_preferences(
            uow=uow, user_id=user_id, cause="settings", timezone="Asia/Kathmandu"
        )
    async with SqlAlchemyUnitOfWork(sessions) as uow:
        changed = await disable_digest_for_emails(
            uow=uow, emails=[(f"{user_id}@example.com", "spam")]
        )

    assert changed == 1
    async with db.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT timezone, digest_enabled FROM users WHERE id = :id"), {"id": user_id}
            )
        ).one()
        types = (await conn.execute(text("SELECT type FROM outbox ORDER BY id"))).scalars().all()
    assert tuple(row) == ("Asia/Kathmandu", False)
    assert types == ["user.preferences_changed", "user.preferences_changed"]


async def test_the_scheduler_role_runs_a_tick_over_the_zones(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine]
) -> None:
    await _seed_user(db, timezone="Asia/Tokyo")
    sessions = make_session_factory(role_engines["todo_scheduler"])
    at = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

    result = await run_due_digests(
        session_factory=sessions,
        window=Window.before(at, timedelta(minutes=15)),
        options=DigestOptions(),
    )

    assert result.enqueued == 1


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        ("todo_scheduler", "UPDATE users SET digest_enabled = false"),
        ("todo_scheduler", "UPDATE users SET timezone = 'UTC'"),
        ("todo_relay", "SELECT timezone, digest_enabled FROM users"),
        ("todo_mailer", "SELECT timezone, digest_enabled FROM users"),
        ("todo_mailer", "UPDATE users SET digest_enabled = false"),
    ],
)
async def test_preferences_stay_out_of_reach_of_the_roles_that_never_change_them(
    db: AsyncEngine, role_engines: dict[str, AsyncEngine], role: str, statement: str
) -> None:
    assert await _refused(role_engines[role], statement)
