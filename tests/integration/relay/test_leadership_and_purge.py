"""The relay lock elects one publisher and fences a lost one; purge keeps what it must."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from relay.forwarder import Forwarder
from relay.leadership import Leadership, LeadershipLostError
from relay.purge import purge_published
from relay.store import PostgresOutboxStore
from tests.integration.relay.conftest import Harness
from tests.unit.relay.fakes import FakePublisher

pytestmark = pytest.mark.integration


def leadership(relay: Harness) -> Leadership:
    settings = relay.settings
    return Leadership(settings.libpq_conninfo, key=settings.relay_lock_key, poll_interval=0.05)


async def test_only_one_relay_holds_the_lock_and_a_standby_gets_it_when_the_leader_goes(
    relay: Harness,
) -> None:
    first, second, stop = leadership(relay), leadership(relay), asyncio.Event()
    assert await first.acquire(stop)
    waiting = asyncio.create_task(second.acquire(stop))
    await asyncio.sleep(0.3)  # six standby polls: none may succeed while the leader lives
    assert not waiting.done(), "two relays must never lead at once"

    await first.release()
    assert await asyncio.wait_for(waiting, 10)
    assert second.backend_pid is not None
    await second.release()


async def test_a_leader_whose_lock_connection_drops_stops_publishing_at_once(
    relay: Harness,
) -> None:
    lock = leadership(relay)
    assert await lock.acquire(asyncio.Event())
    publisher = FakePublisher()
    store = PostgresOutboxStore(relay.session_factory, fence=lock.verify)
    forwarder = Forwarder(store, publisher, relay.settings)
    await relay.write(users=[uuid.uuid4()], per_key=3)
    assert await forwarder.run_once() == 3
    watching = asyncio.create_task(lock.watch())

    async with relay.engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lock.backend_pid})
    await asyncio.wait_for(watching, 10)  # noticed without a query of its own
    await relay.write(users=[uuid.uuid4()], per_key=3)
    with pytest.raises(LeadershipLostError):
        await forwarder.run_once()
    assert len(publisher.sent) == 3
    assert await relay.unpublished() == 3
    await lock.release()


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
