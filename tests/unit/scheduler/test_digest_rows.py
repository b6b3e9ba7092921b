"""Turning an aggregated row into the digest event and its outbox row."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from app.core.events import DailyDigestRequested
from scheduler.digest import build_digest

pytestmark = pytest.mark.unit

DAY = date(2026, 1, 1)
AT = datetime(2026, 1, 2, tzinfo=UTC)


def aggregated(*, total: int, done: int, titles: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        user_id=uuid.uuid4(), email="ann@example.com", total=total, done=done, undone_titles=titles
    )


def test_digest_carries_exact_counts_and_the_capped_titles() -> None:
    row = aggregated(total=9, done=2, titles=["a", "b", "c"])

    digest = build_digest(row, day=DAY, occurred_at=AT, max_titles=2)

    assert digest.stats.model_dump() == {"total": 9, "done": 2, "undone": 7}
    assert digest.undone_titles == ["a", "b"]
    assert (digest.user_id, digest.email, digest.occurred_at) == (row.user_id, row.email, AT)


def test_digest_id_is_the_one_derived_from_user_and_day() -> None:
    row = aggregated(total=0, done=0, titles=[])

    digest = build_digest(row, day=DAY, occurred_at=AT, max_titles=50)

    assert digest.event_id == DailyDigestRequested.id_for(row.user_id, DAY)
