"""In-memory stand-ins for the relay's adapters: a publisher and an outbox store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.events import Event
from app.core.outbox import outbox_row
from relay.leases import LeaseLostError
from relay.publisher import Ack, BrokerUnavailableError, Failure, Message
from relay.store import Backlog, ClaimedBatch, ClaimedRow, FailureRecord


class FakePublisher:
    """Remembers what it sent, can be down, can reject chosen keys permanently."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.down = False
        self.reject_keys: set[bytes] = set()

    async def ensure_ready(self) -> None:
        if self.down:
            raise BrokerUnavailableError("fake broker is down")

    async def publish(self, messages: Sequence[Message]) -> list[Ack | Failure]:
        await self.ensure_ready()
        outcomes: list[Ack | Failure] = []
        for m in messages:
            if m.key in self.reject_keys:
                outcomes.append(Failure("MessageSizeTooLargeError: too big", permanent=True))
            else:
                outcomes.append(Ack(0, len(self.sent)))
                self.sent.append(m)
        return outcomes

    def event_ids(self) -> list[str]:
        return [dict(m.headers)["event_id"].decode() for m in self.sent]


@dataclass
class StoredRow:
    """One outbox row with the relay's bookkeeping, as the table would hold it."""

    row: ClaimedRow
    published_at: float | None = None
    attempts: int = 0
    last_error: str | None = None
    parked: bool = False
    kafka: tuple[int, int] | None = None  # (partition, offset) once acknowledged


@dataclass
class _Batch:
    rows: Sequence[ClaimedRow]
    _store: FakeOutboxStore

    async def mark_published(self, acks: Sequence[tuple[int, int, int]]) -> None:
        now = time.time()
        for row_id, partition, offset in acks:  # each mark commits at once, as autocommit does
            self._store.rows[row_id].published_at = now
            self._store.rows[row_id].kafka = (partition, offset)

    async def record_failure(self, row_id: int, *, error: str, max_attempts: int) -> FailureRecord:
        stored = self._store.rows[row_id]
        stored.attempts += 1
        stored.last_error, stored.parked = error, stored.attempts >= max_attempts
        return FailureRecord(attempts=stored.attempts, parked=stored.parked)


class FakeOutboxStore:
    """The outbox in a dict; each mark or failure recorded applies at once, as autocommit does."""

    def __init__(self) -> None:
        self.rows: dict[int, StoredRow] = {}
        self.claims = 0
        self.excluded: list[list[int]] = []  # what each claim was told to leave out
        #: Set to make every claim fail as a relay that lost its lease would.
        self.fenced = False

    def add(
        self, *events: Event, topic: str = "events", headers: dict[str, str] | None = None
    ) -> None:
        for event in events:
            values = outbox_row(event, topic=topic)
            row_id = len(self.rows) + 1
            self.rows[row_id] = StoredRow(
                ClaimedRow(
                    id=row_id,
                    event_id=str(values["event_id"]),
                    topic=topic,
                    key=values["key"],
                    type=values["type"],
                    value=event.model_dump_json(),
                    headers=values["headers"] | (headers or {}),
                    created=time.time(),
                )
            )

    def unpublished(self) -> list[uuid.UUID]:
        return [
            uuid.UUID(s.row.event_id)
            for s in self.rows.values()
            if s.published_at is None and not s.parked
        ]

    async def claim(self, limit: int, *, excluding: Sequence[int] = ()) -> ClaimedBatch:
        if self.fenced:
            raise LeaseLostError
        self.claims += 1
        self.excluded.append(list(excluding))
        waiting = [
            s.row
            for s in self.rows.values()
            if s.published_at is None and not s.parked and s.row.id not in excluding
        ]
        return _Batch(rows=waiting[:limit], _store=self)

    async def purge(self, *, retention_seconds: float, limit: int) -> int:
        cutoff = time.time() - retention_seconds
        old = [
            row_id
            for row_id, s in self.rows.items()
            if s.published_at is not None and s.published_at < cutoff
        ][:limit]
        for row_id in old:
            del self.rows[row_id]
        return len(old)

    async def backlog(self) -> Backlog:
        waiting = [s for s in self.rows.values() if s.published_at is None]
        unparked = [s for s in waiting if not s.parked]
        oldest = min((s.row.created for s in unparked), default=None)
        return Backlog(
            unpublished=len(unparked),
            oldest_age=0.0 if oldest is None else time.time() - oldest,
            parked=len(waiting) - len(unparked),
        )
