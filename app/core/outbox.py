"""Append events to the outbox inside the caller's transaction.

A statement-level trigger on `outbox` (migration 0004) NOTIFYs the relay on every insert, so
writers need no round trip of their own to wake it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.events import Event
from app.core.models import Base

#: Channel the relay LISTENs on (the trigger's NOTIFY is transactional: delivered at commit).
OUTBOX_CHANNEL = "outbox"
DEFAULT_TOPIC = "events"
OUTBOX_TABLE = Base.metadata.tables["outbox"]


def outbox_row(event: Event, *, topic: str = DEFAULT_TOPIC) -> dict[str, object]:
    """The outbox row of one event (also used by set-based writers such as the scheduler)."""
    return {
        "event_id": event.event_id,
        "topic": topic,
        "key": event.key,
        "type": event.type,
        "payload": event.model_dump(mode="json"),
        "occurred_at": event.occurred_at,
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
