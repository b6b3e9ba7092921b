"""The relay needs nothing beyond its role's grants (SELECT, UPDATE, DELETE on outbox)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.core.db import make_engine, make_session_factory
from relay.forwarder import Forwarder
from relay.leadership import Leadership
from relay.purge import purge_published
from relay.settings import RelaySettings
from relay.store import PostgresOutboxStore
from tests.integration.relay.conftest import Harness
from tests.unit.relay.fakes import FakePublisher

pytestmark = pytest.mark.integration


async def test_claiming_marking_fencing_purging_and_gauges_work_as_the_relay_role(
    relay: Harness,
) -> None:
    # Connect as the superuser but act as `todo_relay` (created by migration 0003).
    as_relay = f"{relay.settings.sqlalchemy_url}?options=-c%20role%3Dtodo_relay"
    settings = RelaySettings.model_validate(
        relay.settings.model_dump() | {"database_url": as_relay}
    )
    engine = make_engine(as_relay)
    session_factory = make_session_factory(engine)
    lock = Leadership(settings.libpq_conninfo, key=settings.relay_lock_key, poll_interval=0.1)
    try:
        assert await lock.acquire(asyncio.Event())
        await relay.write(users=[uuid.uuid4()], per_key=3)
        publisher = FakePublisher()
        store = PostgresOutboxStore(session_factory, fence=lock.verify)
        forwarder = Forwarder(store, publisher, settings)
        assert await forwarder.run_once() == 3
        await forwarder.metrics.refresh_backlog(store)
        assert forwarder.metrics.registry.get_sample_value("relay_outbox_unpublished") == 0
        assert await purge_published(store, retention_seconds=0, batch_size=10) == 3
    finally:
        await lock.release()
        await engine.dispose()
