"""The relay needs nothing beyond its role's grants (outbox, relay_members, relay_leases)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import CollectorRegistry

from app.core.db import make_engine
from relay.forwarder import Forwarder
from relay.leases import LeaseManager, new_member
from relay.metrics import RelayMetrics
from relay.purge import purge_published
from relay.store import PostgresOutboxStore
from tests.integration.relay.conftest import Harness
from tests.unit.relay.fakes import FakePublisher

pytestmark = pytest.mark.integration


async def no_fence(transactional_id: str) -> None:
    del transactional_id


async def test_leasing_claiming_marking_purging_and_gauges_work_as_the_relay_role(
    relay: Harness,
) -> None:
    # Connect as the superuser but act as `todo_relay` (created by migration 0003).
    as_relay = f"{relay.settings.sqlalchemy_url}?options=-c%20role%3Dtodo_relay"
    engine = make_engine(as_relay, autocommit=True)
    metrics = RelayMetrics(CollectorRegistry())
    leases = LeaseManager(
        engine,
        relay.settings,
        member=new_member(),
        fence=no_fence,
        cycle_lock=asyncio.Lock(),
        may_release=lambda: True,
        metrics=metrics,
    )
    try:
        await leases.prepare()
        await leases.heartbeat()
        await relay.write(users=[uuid.uuid4()], per_key=3)
        store = PostgresOutboxStore(engine, lease=leases.current)
        forwarder = Forwarder(store, FakePublisher(), relay.settings, metrics=metrics)
        assert await forwarder.run_once() == 3
        await forwarder.metrics.refresh_backlog(store)
        assert forwarder.metrics.registry.get_sample_value("relay_outbox_unpublished") == 0
        assert await purge_published(store, retention_seconds=0, batch_size=10) == 3
        await leases.leave()
    finally:
        await engine.dispose()
