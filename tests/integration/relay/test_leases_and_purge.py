"""Leases share the partitions fairly and fence a lost owner; purge keeps what it must."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import make_engine
from relay.forwarder import Forwarder
from relay.leases import (
    LeaseExpiredError,
    LeaseLostError,
    LeaseManager,
    new_member,
    transactional_id,
)
from relay.metrics import RelayMetrics
from relay.purge import purge_published
from relay.settings import RelaySettings
from relay.status import gather, render
from relay.store import PostgresOutboxStore
from tests.integration.relay.conftest import Harness
from tests.unit.relay.fakes import FakePublisher

pytestmark = pytest.mark.integration


class Member:
    """One relay's lease manager with a fencer that only records whom it fenced."""

    def __init__(self, engine: AsyncEngine, settings: RelaySettings) -> None:
        self.fenced: list[str] = []
        self.metrics = RelayMetrics(CollectorRegistry())
        self.lock = asyncio.Lock()
        self.leases = LeaseManager(
            engine,
            settings,
            member=new_member(),
            fence=self._fence,
            cycle_lock=self.lock,
            may_release=lambda: True,
            metrics=self.metrics,
        )

    async def _fence(self, transactional_id: str) -> None:
        self.fenced.append(transactional_id)

    @property
    def owned(self) -> set[int]:
        return set(self.leases.current().partitions)


@pytest.fixture
async def autocommit(relay: Harness) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(relay.settings.sqlalchemy_url, autocommit=True)
    yield engine
    await engine.dispose()


async def beat(*members: Member, rounds: int = 3) -> None:
    for _ in range(rounds):
        for m in members:
            await m.leases.heartbeat()


async def test_one_relay_owns_every_partition_and_a_second_one_gets_half_within_two_beats(
    relay: Harness, autocommit: AsyncEngine
) -> None:
    first, second = Member(autocommit, relay.settings), Member(autocommit, relay.settings)
    await first.leases.prepare()
    await first.leases.heartbeat()
    assert first.owned == set(range(relay.settings.relay_partitions))

    await beat(second, first, second, rounds=1)

    half = relay.settings.relay_partitions // 2
    assert len(first.owned) == len(second.owned) == half
    assert not first.owned & second.owned
    assert first.fenced == second.fenced == []  # released, not expired: nobody to fence

    await second.leases.leave()
    await first.leases.heartbeat()
    assert first.owned == set(range(relay.settings.relay_partitions))


async def test_an_expired_owner_is_fenced_before_its_partitions_are_claimed_by_the_next(
    relay: Harness, autocommit: AsyncEngine
) -> None:
    settings = relay.settings.model_copy(update={"relay_lease_seconds": 0.5})
    dead, heir = Member(autocommit, settings), Member(autocommit, settings)
    await dead.leases.prepare()
    await dead.leases.heartbeat()
    await heir.leases.heartbeat()
    assert heir.owned == set()  # the owner is alive: nothing is taken from it

    await asyncio.sleep(0.7)  # the owner stops renewing: killed or paused
    await heir.leases.heartbeat()

    assert heir.owned == set(range(settings.relay_partitions))
    assert heir.fenced == [transactional_id(dead.leases.member)]
    with pytest.raises(LeaseLostError):
        await dead.leases.heartbeat()  # the zombie learns it, and owns nothing
    assert dead.owned == set()


async def test_a_claim_or_mark_with_a_lease_taken_over_publishes_and_marks_nothing(
    relay: Harness, autocommit: AsyncEngine
) -> None:
    settings = relay.settings.model_copy(update={"relay_lease_seconds": 0.5})
    zombie, heir = Member(autocommit, settings), Member(autocommit, settings)
    await zombie.leases.prepare()
    await zombie.leases.heartbeat()
    await relay.write(users=[uuid.uuid4() for _ in range(5)], per_key=2)
    publisher = FakePublisher()
    stale = PostgresOutboxStore(autocommit, lease=zombie.leases.current)
    batch = await stale.claim(100)
    assert len(batch.rows) == 10
    await asyncio.sleep(0.7)  # paused with the rows in hand
    await heir.leases.heartbeat()
    with pytest.raises(LeaseExpiredError):
        await batch.mark_published([(row.id, 0, n) for n, row in enumerate(batch.rows)])
    assert await relay.unpublished() == 10
    forwarder = Forwarder(stale, publisher, settings)
    with pytest.raises(LeaseExpiredError):
        await forwarder.run_once()
    assert publisher.sent == []


async def test_a_relay_claims_only_rows_of_the_partitions_it_owns(
    relay: Harness, autocommit: AsyncEngine
) -> None:
    first, second = Member(autocommit, relay.settings), Member(autocommit, relay.settings)
    await first.leases.prepare()
    await beat(first, second, first, second, rounds=1)
    written = await relay.write(users=[uuid.uuid4() for _ in range(40)], per_key=3)
    claimed: dict[str, set[str]] = {}
    for name, member in (("first", first), ("second", second)):
        store = PostgresOutboxStore(autocommit, lease=member.leases.current)
        batch = await store.claim(1000)
        claimed[name] = {row.key for row in batch.rows}
    assert claimed["first"]
    assert claimed["second"]
    assert not claimed["first"] & claimed["second"]
    assert claimed["first"] | claimed["second"] == {e.key for e in written}


async def test_purge_deletes_only_published_rows_older_than_the_retention(relay: Harness) -> None:
    await relay.write(users=[uuid.uuid4()], per_key=10)
    async with relay.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE outbox SET published_at = CASE"
                " WHEN id <= 5 THEN now() - interval '2 hours'"  # old and published: purged
                " WHEN id <= 7 THEN now() END"  # recently published: kept
            )
        )
        await conn.execute(  # old, never published, parked: kept for an operator
            text("UPDATE outbox SET parked_at = now() - interval '3 hours' WHERE id = 8")
        )

    deleted = await purge_published(relay.store, retention_seconds=3600, batch_size=2)

    assert deleted == 5
    async with relay.engine.connect() as conn:
        left = (await conn.execute(text("SELECT id FROM outbox ORDER BY id"))).scalars().all()
    assert left == [6, 7, 8, 9, 10]


async def test_relay_status_shows_each_partitions_owner_and_backlog(
    relay: Harness, autocommit: AsyncEngine
) -> None:
    member = Member(autocommit, relay.settings)
    await member.leases.prepare()
    await member.leases.heartbeat()
    written = await relay.write(users=[uuid.uuid4() for _ in range(10)], per_key=2)

    status = await gather(relay.settings)

    assert [m["member"] for m in status["members"]] == [member.leases.member]
    assert {p["owner"] for p in status["partitions"]} == {member.leases.member}
    assert sum(p["backlog"] for p in status["partitions"]) == len(written)
    assert member.leases.member in render(status)
