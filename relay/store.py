"""The relay's side of the outbox table: claim, mark, park, purge and count, and nothing else.

`OutboxStore` is what the forwarder, the purge and the gauges need; `PostgresOutboxStore` is the
one implementation, the only module of the relay that holds SQL for the outbox. (What writers
insert is `app.core.outbox`.) Unit tests use an in-memory fake of the same Protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncEngine

from relay.leases import Lease, LeaseExpiredError

# Claimed by state (`published_at IS NULL`), never after an `id > last_seen` cursor: ids are
# taken at insert but become visible at commit, out of order. The order is `published_at, id`:
# the same as `id` (published_at is NULL on every row claimed), but only the partial index
# ix_outbox_unpublished (published_at, id, slot) provides it, so no statistics can make the
# planner walk the primary key through published rows instead, or sort the backlog
# (migrations 0007 and 0009). No row locks: a partition has one owner at a time
# (relay/leases.py), and a paused owner that held locks would stall its successor.
CLAIM_ANY = text(
    """
    SELECT id, event_id::text AS event_id, topic, key, type, payload::text AS value, headers,
           extract(epoch FROM created_at) AS created
    FROM outbox
    WHERE published_at IS NULL AND parked_at IS NULL
      AND id <> ALL(CAST(:excluding AS bigint[]))
    ORDER BY published_at, id
    LIMIT :batch
    """
)
#: True while the caller still holds every lease of its snapshot: member, partition and epoch.
HOLDS_LEASE = """(
        SELECT count(*) FROM relay_leases
        WHERE owner = :member AND expires_at > now()
          AND (partition, epoch) IN (SELECT * FROM unnest(CAST(:partitions AS smallint[]),
                                                          CAST(:epochs AS bigint[]))))
      = cardinality(CAST(:partitions AS smallint[]))"""
# One statement, so the fence and the rows come from the same moment and a paused relay holds no
# transaction open. The first column says whether the lease held; with no rows it comes alone.
CLAIM = text(
    f"""
    WITH fence AS (SELECT {HOLDS_LEASE} AS held)
    SELECT fence.held, claimed.*
    FROM fence LEFT JOIN LATERAL (
        SELECT id, event_id::text AS event_id, topic, key, type, payload::text AS value, headers,
               extract(epoch FROM created_at) AS created
        FROM outbox
        WHERE fence.held AND published_at IS NULL AND parked_at IS NULL
          AND slot = ANY(CAST(:slots AS smallint[]))
          AND id <> ALL(CAST(:excluding AS bigint[]))
        ORDER BY published_at, id
        LIMIT :batch) claimed ON true
    """  # noqa: S608 - composed of constants only
)
# The acknowledgements' Kafka partitions and offsets ride along in the one mark statement (the
# event's journey), three arrays unnested side by side: no extra round trip per batch.
MARK_PUBLISHED = text(
    """
    UPDATE outbox AS o
    SET published_at = now(), kafka_partition = a.kafka_partition, kafka_offset = a.kafka_offset
    FROM unnest(CAST(:ids AS bigint[]), CAST(:kafka_partitions AS integer[]),
                CAST(:kafka_offsets AS bigint[])) AS a (id, kafka_partition, kafka_offset)
    WHERE o.id = a.id
    """
)
MARK_PUBLISHED_FENCED = text(str(MARK_PUBLISHED).rstrip() + " AND " + HOLDS_LEASE)
RECORD_FAILURE = text(
    """
    UPDATE outbox
    SET attempts = attempts + 1, last_error = :error,
        parked_at = CASE WHEN attempts + 1 >= :max_attempts THEN now() END
    WHERE id = :id
    RETURNING attempts, parked_at IS NOT NULL AS parked
    """
)
RECORD_FAILURE_FENCED = text(
    str(RECORD_FAILURE).replace("WHERE id = :id", f"WHERE id = :id AND {HOLDS_LEASE}")
)
# Small batches keep each transaction short: the relay's claims and the writers never wait on
# a purge. Parked rows are never purged (published_at stays NULL); an operator decides on them.
PURGE = text(
    """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox
        WHERE published_at < now() - make_interval(secs => :retention)
        ORDER BY published_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED)
    RETURNING id
    """
)
BACKLOG = text(
    """
    SELECT count(*) FILTER (WHERE parked_at IS NULL) AS unpublished,
           coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)),
                    0) AS oldest_age,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
    FROM outbox WHERE published_at IS NULL
    """
)


class ClaimedRow(NamedTuple):
    """One claimed outbox row, as the relay needs it; the fields are `CLAIM`'s column names."""

    id: int
    event_id: str
    topic: str
    key: str
    type: str
    value: str  # the stored payload JSON, sent as is
    headers: dict[str, str] | None  # recorded with the row, e.g. a traceparent
    created: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A row's state after a permanent failure was recorded."""

    attempts: int
    parked: bool


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits: rows not yet published, the age of the oldest one, rows parked."""

    unpublished: int
    oldest_age: float
    parked: int


class ClaimedBatch(Protocol):
    """Rows of one claim; each mark or failure recorded commits at once, if the lease holds."""

    @property
    def rows(self) -> Sequence[ClaimedRow]: ...

    async def mark_published(self, acks: Sequence[tuple[int, int, int]]) -> None:
        """Mark rows published; each ack is (row id, Kafka partition, Kafka offset)."""
        ...

    async def record_failure(
        self, row_id: int, *, error: str, max_attempts: int
    ) -> FailureRecord: ...


class OutboxStore(Protocol):
    async def claim(self, limit: int, *, excluding: Sequence[int] = ()) -> ClaimedBatch:
        """Up to `limit` unpublished rows of the partitions we lease, in id order, but for the
        rows `excluding` names (sent or being sent, not marked yet)."""
        ...

    async def purge(self, *, retention_seconds: float, limit: int) -> int:
        """Delete up to `limit` rows published longer ago than the retention; how many."""
        ...

    async def backlog(self) -> Backlog: ...


class _PostgresBatch:
    def __init__(
        self, engine: AsyncEngine, rows: Sequence[ClaimedRow], lease: Lease | None
    ) -> None:
        self._engine = engine
        self.rows = rows
        self._lease = lease

    async def mark_published(self, acks: Sequence[tuple[int, int, int]]) -> None:
        if self._lease is None:
            await _execute(self._engine, MARK_PUBLISHED, mark_parameters(acks))
            return
        params = mark_parameters(acks) | _fence_params(self._lease)
        result = await _execute(self._engine, MARK_PUBLISHED_FENCED, params)
        if not result:
            # Kafka has the rows (committed), the table does not say so: the next owner sends
            # them again, after ours. Duplicates, never a reordering.
            raise LeaseExpiredError("lease no longer held when marking")

    async def record_failure(self, row_id: int, *, error: str, max_attempts: int) -> FailureRecord:
        params: dict[str, Any] = {"id": row_id, "error": error, "max_attempts": max_attempts}
        statement = RECORD_FAILURE
        if self._lease is not None:
            params |= _fence_params(self._lease)
            statement = RECORD_FAILURE_FENCED
        async with self._engine.connect() as conn:
            row = (await conn.execute(statement, params)).one_or_none()
            await conn.commit()
        if row is None:
            raise LeaseExpiredError("lease no longer held when recording a failure")
        return FailureRecord(attempts=row.attempts, parked=row.parked)


class PostgresOutboxStore:
    """The outbox in PostgreSQL, one autocommit statement at a time.

    With `lease`, every claim and mark checks in its own statement that the relay still holds
    the leases it claims with; without, it claims every partition (tests, tools).
    """

    def __init__(self, engine: AsyncEngine, *, lease: Callable[[], Lease] | None = None) -> None:
        self._engine = engine
        self._lease = lease

    async def claim(self, limit: int, *, excluding: Sequence[int] = ()) -> ClaimedBatch:
        lease = self._lease() if self._lease is not None else None
        if lease is not None and not lease.partitions:
            return _PostgresBatch(self._engine, [], lease)
        async with self._engine.connect() as conn:
            params: dict[str, Any] = {"batch": limit, "excluding": int_array(excluding)}
            if lease is None:
                result = await conn.execute(CLAIM_ANY, params)
                columns, skip = tuple(result.keys()), 0
            else:
                params |= {"slots": int_array(lease.slots)} | _fence_params(lease)
                result = await conn.execute(CLAIM, params)
                columns, skip = tuple(result.keys())[1:], 1
            _check_columns(columns)
            # Tuples straight from the driver, named by the checked columns: a dataclass per
            # row would cost the relay a few per cent of its drain rate.
            raw = result.all()
            await conn.commit()
        if skip and not (raw and raw[0][0]):
            raise LeaseExpiredError("lease not held when claiming")
        rows = [ClaimedRow._make(r[skip:]) for r in raw if r[skip] is not None]
        return _PostgresBatch(self._engine, rows, lease)

    async def purge(self, *, retention_seconds: float, limit: int) -> int:
        async with self._engine.connect() as conn:
            params = {"retention": retention_seconds, "batch": limit}
            deleted = len((await conn.execute(PURGE, params)).all())
            await conn.commit()
        return deleted

    async def backlog(self) -> Backlog:
        async with self._engine.connect() as conn:
            row = (await conn.execute(BACKLOG)).one()
        return Backlog(
            unpublished=row.unpublished, oldest_age=float(row.oldest_age), parked=row.parked
        )


def _fence_params(lease: Lease) -> dict[str, Any]:
    return {
        "member": lease.member,
        "partitions": int_array(lease.partitions),
        "epochs": int_array(lease.epochs),
    }


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal, '{1,2,3}', for a `CAST(:name AS bigint[])` parameter.

    psycopg adapts a list element by element in Python: about 0.1 ms for the 320 numbers of a
    claim's fence and slots, more for a batch's ids, on every claim and mark. The join costs a
    few microseconds, and the statement stays the same.
    """
    return "{" + ",".join(map(str, values)) + "}"


async def _execute(engine: AsyncEngine, statement: Any, params: dict[str, Any]) -> int:
    async with engine.connect() as conn:
        result = await conn.execute(statement, params)
        await conn.commit()
    return int(cast("CursorResult[Any]", result).rowcount)


def mark_parameters(acks: Sequence[tuple[int, int, int]]) -> dict[str, Any]:
    """`MARK_PUBLISHED`'s three arrays from (row id, Kafka partition, offset) triples."""
    return {
        "ids": int_array(a[0] for a in acks),
        "kafka_partitions": int_array(a[1] for a in acks),
        "kafka_offsets": int_array(a[2] for a in acks),
    }


def _check_columns(columns: tuple[Any, ...]) -> None:
    if columns != ClaimedRow._fields:
        msg = f"the claim's columns {columns} are not ClaimedRow's {ClaimedRow._fields}"
        raise RuntimeError(msg)
