"""The outbox as writers know it: one row shape for every way of inserting events."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.dialects import postgresql

from app.core.events import TaskCreated
from app.core.models import Base
from app.core.outbox import INSERT_NEW, WRITE_COLUMNS, insert_announcements, outbox_row

pytestmark = pytest.mark.unit


def a_row() -> dict[str, object]:
    return outbox_row(TaskCreated(user_id=uuid.uuid4(), task_id=uuid.uuid4(), title="t"))


def test_an_outbox_row_fills_exactly_the_write_columns() -> None:
    assert tuple(a_row()) == WRITE_COLUMNS


def test_the_write_columns_are_columns_of_the_table_and_leave_the_rest_to_the_database() -> None:
    table = Base.metadata.tables["outbox"]
    left_to_the_database = set(table.c.keys()) - set(WRITE_COLUMNS)
    assert set(WRITE_COLUMNS) <= set(table.c.keys())
    assert left_to_the_database == {
        "id",
        "created_at",
        "published_at",
        "attempts",
        "last_error",
        "parked_at",
        "slot",  # computed by PostgreSQL from the key
        "kafka_partition",
        "kafka_offset",  # where the broker stored it, written when marked
    }


def test_the_page_insert_takes_one_array_per_write_column_and_skips_existing_ids() -> None:
    sql = INSERT_NEW.text
    assert f"INSERT INTO outbox ({', '.join(WRITE_COLUMNS)})" in sql
    assert all(f"CAST(:{column} AS" in sql for column in WRITE_COLUMNS)
    assert sql.rstrip().endswith("ON CONFLICT DO NOTHING")


def test_an_announcement_insert_binds_every_write_column_by_the_row_names() -> None:
    statement = insert_announcements(Base.metadata.tables["users"]).compile(
        dialect=postgresql.dialect()
    )
    assert set(statement.params) == set(WRITE_COLUMNS)
    assert str(statement).startswith(f"INSERT INTO outbox ({', '.join(WRITE_COLUMNS)}) SELECT")
