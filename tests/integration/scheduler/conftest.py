"""Fixtures of the scheduler's integration tests: reading back what a run wrote to the outbox."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.events import DailyDigestRequested, decode_event
from app.core.models import OutboxEvent


@dataclass(frozen=True)
class OutboxDigest:
    """One outbox row and the event decoded from its payload."""

    row: Any
    event: DailyDigestRequested


ReadDigests = Callable[[], Awaitable[list[OutboxDigest]]]


@pytest.fixture
def read_digests(db: AsyncEngine) -> ReadDigests:
    async def read() -> list[OutboxDigest]:
        async with db.connect() as conn:
            rows = (await conn.execute(select(OutboxEvent.__table__).order_by("id"))).all()
        digests = []
        for row in rows:
            event = decode_event(json.dumps(row.payload))
            assert isinstance(event, DailyDigestRequested)
            digests.append(OutboxDigest(row=row, event=event))
        return digests

    return read
