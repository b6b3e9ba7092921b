"""The migrations are the only way the schema is made: they must round-trip and match the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.core.models import Base
from tests.migrations import downgrade, empty_database, upgrade

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
