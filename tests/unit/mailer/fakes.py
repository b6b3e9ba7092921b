"""In-memory adapters for the mailer's ports: a mail transport, a dedupe store, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import Message as EmailMessage

from aiokafka.errors import KafkaConnectionError

from mailer.message import DatabaseUnavailableError, Message


class FakeTransport:
    """Records what it sends; raises the queued failures first, one per send."""

    def __init__(self, *failures: Exception, delay: float = 0.0) -> None:
        self.sent: list[EmailMessage] = []
        self.failures = list(failures)
        self.delay = delay
        self.active = 0
        self.most_active = 0

    async def send(self, message: EmailMessage, *, recipient: str) -> None:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await asyncio.sleep(self.delay)
            if self.failures:
                raise self.failures.pop(0)
            assert message["To"] == recipient
            self.sent.append(message)
        finally:
            self.active -= 1

    async def close(self) -> None:
        return None


@dataclass
class _FakeClaim:
    store: FakeDedupeStore
    event_id: uuid.UUID

    message_id: str | None = None

    async def commit(self) -> None:
        if self.store.commit_failures:
            self.store.commit_failures -= 1
            raise DatabaseUnavailableError("connection lost at commit")
        self.store.processed.add(self.event_id)
        self.store.message_ids[self.event_id] = self.message_id


@dataclass
class FakeDedupeStore:
    """`processed` is the table; `outages` failed claims/records before the database is back."""

    processed: set[uuid.UUID] = field(default_factory=set)
    outages: int = 0
    commit_failures: int = 0
    record_outages: int = 0
    claims: int = 0
    message_ids: dict[uuid.UUID, str | None] = field(default_factory=dict)

    def _maybe_down(self) -> None:
        if self.outages:
            self.outages -= 1
            raise DatabaseUnavailableError("connection refused")

    @asynccontextmanager
    async def claim(
        self, event_id: uuid.UUID, *, message_id: str | None = None
    ) -> AsyncIterator[_FakeClaim | None]:
        self._maybe_down()
        self.claims += 1
        yield None if event_id in self.processed else _FakeClaim(self, event_id, message_id)

    async def record(self, event_id: uuid.UUID, *, message_id: str | None = None) -> None:
        if self.record_outages:
            self.record_outages -= 1
            raise DatabaseUnavailableError("still down")
        self.processed.add(event_id)
        self.message_ids[event_id] = message_id


@dataclass
class FakeDeadLetters:
    letters: list[tuple[Message, str, str]] = field(default_factory=list)
    failures: int = 0

    async def publish(self, message: Message, *, reason: str, detail: str) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker away")
        self.letters.append((message, reason, detail))
