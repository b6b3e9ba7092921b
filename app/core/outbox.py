"""The outbox table as writers know it: its columns, and the three ways events are inserted.

- `append_to_outbox`: the unit of work's multi-row INSERT inside the caller's transaction;
- `insert_announcements`: an `INSERT ... SELECT` for one statement that also writes the row it
  announces (the API's `POST /tasks`, decision 0008);
- `insert_new`: a whole page of rows as column arrays, skipping those already written (the
  scheduler's digests).

Every writer fills exactly `WRITE_COLUMNS` from `outbox_row`; the database fills the rest (`id`,
`created_at`, the relay's bookkeeping). A row's `headers` travel to Kafka with it, after the
required ones: the CloudEvents `ce_time` and `ce_subject`, the trace context the write happened
in, and what a writer adds (the scheduler's `digest_day`). What the relay reads and updates lives
in `relay/store.py`. A statement-level trigger on `outbox` (migration 0004) NOTIFYs the relay on
every insert, so writers need no round trip of their own to wake it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from sqlalchemy import CursorResult, FromClause, Insert, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.envelope import cloudevent_headers
from app.core.events import Event
from app.core.models import Base
from app.core.tracing import trace_headers

#: Channel the relay LISTENs on (the trigger's NOTIFY is transactional: delivered at commit).
OUTBOX_CHANNEL: Final = "outbox"
DEFAULT_TOPIC: Final = "events"
OUTBOX_TABLE = Base.metadata.tables["outbox"]
#: The columns a writer fills, in this order (the keys of `outbox_row`).
WRITE_COLUMNS: Final = ("event_id", "topic", "key", "type", "payload", "occurred_at", "headers")
#: Their PostgreSQL types, for the array parameters of `insert_new`.
_ARRAY_TYPES: Final = ("uuid", "text", "text", "text", "jsonb", "timestamptz", "jsonb")
_JSON_COLUMNS: Final = ("payload", "headers")


def outbox_row(
    event: Event, *, topic: str = DEFAULT_TOPIC, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The outbox row of one event: a value for each of `WRITE_COLUMNS`.

    Its headers hold the event's CloudEvents time and subject and the current span's trace
    context, so the relay's send joins the trace of the change (the API's request, the
    scheduler's run); `headers` adds more (the relay adds the required ones).
    """
    payload = event.model_dump(mode="json")
    recorded = cloudevent_headers(event, occurred_at=payload["occurred_at"]) | trace_headers()
    return {
        "event_id": event.event_id,
        "topic": topic,
        "key": event.key,
        "type": event.type,
        "payload": payload,
        "occurred_at": event.occurred_at,
        "headers": recorded | dict(headers or {}),
    }


async def append_to_outbox(
    session: AsyncSession, events: Sequence[Event], *, topic: str = DEFAULT_TOPIC
) -> None:
    """Insert the events in order; the rows and the relay's wake-up take effect at commit."""
    if not events:
        return
    # One multi-row INSERT on the table, without RETURNING: the API role may insert into the
    # outbox but read nothing back from it.
    rows = [outbox_row(e, topic=topic) for e in events]
    await session.execute(insert(OUTBOX_TABLE).values(rows))


def insert_announcements(source: FromClause) -> Insert:
    """`INSERT INTO outbox (WRITE_COLUMNS) SELECT :event_id, ... FROM source`.

    One outbox row for each row of `source` (none when it is empty), its values bound by the
    names of `outbox_row`, so `params | outbox_row(event)` fills it.
    """
    values = select(*(bindparam(c, type_=OUTBOX_TABLE.c[c].type) for c in WRITE_COLUMNS))
    return insert(OUTBOX_TABLE).from_select(
        list(WRITE_COLUMNS), values.select_from(source), include_defaults=False
    )


# The whole page in ONE statement: six array parameters instead of 6 x page-size scalars (measured
# 35% faster than an executemany and 10x faster than compiling a multi-row VALUES each page).
# No conflict target on purpose: `ON CONFLICT (event_id)` needs SELECT on outbox.event_id, because
# PostgreSQL reads the arbiter columns, while the bare form needs INSERT only. `event_id` is the
# only unique key a writer can collide on (`id` is GENERATED ALWAYS), which a test guards.
INSERT_NEW = text(
    f"INSERT INTO outbox ({', '.join(WRITE_COLUMNS)})\nSELECT * FROM unnest(\n    "
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(WRITE_COLUMNS, _ARRAY_TYPES, strict=True))
    + "\n)\nON CONFLICT DO NOTHING"
).execution_options(preserve_rowcount=True)  # SQLAlchemy keeps an INSERT's rowcount only if asked


async def insert_new(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows (from `outbox_row`) whose event id is not in the outbox yet; how many."""
    if not rows:
        return 0
    columns = {name: [row[name] for row in rows] for name in WRITE_COLUMNS}
    for name in _JSON_COLUMNS:
        columns[name] = [None if value is None else json.dumps(value) for value in columns[name]]
    result = await session.execute(INSERT_NEW, columns)
    return cast("CursorResult[Any]", result).rowcount
