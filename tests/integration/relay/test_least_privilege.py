"""The relay needs nothing beyond its role's grants (SELECT, UPDATE, DELETE on outbox)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.core.db import make_engine, make_session_factory
from relay import metrics
from relay.forwarder import Forwarder
from relay.leadership import Leadership
from relay.purge import purge_published
from relay.settings import RelaySettings
from tests.integration.relay.conftest import Harness
from tests.integration.relay.fakes import FakePublisher

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
        forwarder = Forwarder(session_factory, publisher, settings, fence=lock.verify)
        assert await forwarder.run_once() == 3
        await metrics.refresh_backlog(session_factory)
        assert metrics.UNPUBLISHED._value.get() == 0
        assert await purge_published(session_factory, retention_seconds=0, batch_size=10) == 3
    finally:
        await lock.release()
        await engine.dispose()
