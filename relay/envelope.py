"""An outbox row as a Kafka record: its topic, the user as key, the stored JSON, the headers."""

from __future__ import annotations

from app.core.envelope import envelope_headers
from relay.publisher import Message
from relay.store import ClaimedRow


def to_message(row: ClaimedRow) -> Message:
    """The record of one row; the value is the stored JSON, never re-serialised."""
    return Message(
        topic=row.topic,
        key=row.key.encode(),
        value=row.value.encode(),
        headers=envelope_headers(event_type=row.type, event_id=row.event_id, recorded=row.headers),
    )
