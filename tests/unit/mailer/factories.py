"""Events and Kafka messages for the mailer's unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from app.core.events import DailyDigestRequested, DigestStats
from mailer.message import Message


def digest(
    *, titles: list[str] | None = None, undone: int | None = None, done: int = 1
) -> DailyDigestRequested:
    titles = ["Buy milk", "Call mum"] if titles is None else titles
    undone = len(titles) if undone is None else undone
    return DailyDigestRequested(
        user_id=uuid.uuid4(),
        occurred_at=datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
        email="ada@example.com",
        stats=DigestStats(total=undone + done, done=done, undone=undone),
        undone_titles=titles,
    )


def message(
    value: bytes | None,
    *,
    offset: int = 0,
    partition: int = 0,
    extra_headers: tuple[tuple[str, bytes], ...] = (),
) -> Message:
    return Message(
        topic="events",
        partition=partition,
        offset=offset,
        key=b"user",
        value=value,
        headers=(("event_type", b"email.daily_digest.requested"), *extra_headers),
    )


def digest_message(
    event: DailyDigestRequested, *, offset: int = 0, day: bytes | None = None
) -> Message:
    """The record of `event`, with the scheduler's `digest_day` header when `day` is given."""
    extra = () if day is None else (("digest_day", day),)
    return message(event.model_dump_json().encode(), offset=offset, extra_headers=extra)
