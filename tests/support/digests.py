"""Digest events as the scheduler writes them, for the mailer's tests and its benchmark."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from app.core.events import DailyDigestRequested, DigestStats


def make_digest(
    *, email: str | None = None, undone_titles: list[str] | None = None, day: date | None = None
) -> DailyDigestRequested:
    """A digest for a new user, with its day's deterministic id."""
    user_id = uuid.uuid4()
    titles = ["Buy milk", "Call mum"] if undone_titles is None else undone_titles
    when = datetime.combine(day or date(2026, 11, 26), datetime.min.time(), tzinfo=UTC)
    return DailyDigestRequested(
        event_id=DailyDigestRequested.id_for(user_id, when.date()),
        occurred_at=when,
        user_id=user_id,
        email=email or f"user-{user_id.hex[:8]}@example.com",
        stats=DigestStats(total=len(titles) + 1, done=1, undone=len(titles)),
        undone_titles=titles,
    )
