"""The migrations are the only way the schema is made: they must round-trip and match the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from app.core.models import Base
from tests.support.migrations import downgrade, empty_database, upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch_url(admin_url: str) -> Iterator[str]:
    with empty_database(admin_url, "todo_mig") as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(scratch_url: str) -> None:
    upgrade(scratch_url)
    assert {"users", "tasks", "outbox", "processed_events"} <= _tables(scratch_url)
    downgrade(scratch_url)
    assert _tables(scratch_url) <= {"alembic_version"}
    upgrade(scratch_url)
    assert {"users", "tasks", "outbox", "processed_events"} <= _tables(scratch_url)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_tasks_have_both_indexes(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        indexes = {tuple(ix["column_names"]) for ix in inspect(engine).get_indexes("tasks")}
    finally:
        engine.dispose()
    assert {("user_id",), ("user_id", "done")} <= indexes


def test_users_who_existed_before_preferences_keep_a_utc_digest(scratch_url: str) -> None:
    upgrade(scratch_url, "0004")
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO users (id, email, password_hash) VALUES (:id, 'old@x.io', 'h')"),
                {"id": uuid.uuid4()},
            )
        upgrade(scratch_url)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT timezone, digest_enabled FROM users")).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("UTC", True)


def test_the_zone_of_an_existing_deployment_carries_over_to_its_users(
    scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(scratch_url, "0004")
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO users (id, email, password_hash) VALUES (:id, 'old@x.io', 'h')"),
                {"id": uuid.uuid4()},
            )
        monkeypatch.setenv("DIGEST_TIMEZONE", "Europe/Moscow")
        upgrade(scratch_url)
        with engine.connect() as conn:
            zone = conn.scalar(text("SELECT timezone FROM users"))
            default = conn.scalar(
                text(
                    "SELECT column_default FROM information_schema.columns "
                    "WHERE table_name = 'users' AND column_name = 'timezone'"
                )
            )
    finally:
        engine.dispose()
    assert zone == "Europe/Moscow"
    assert default == "'UTC'::text"
