"""Real `python -m relay` processes: fail-over after SIGKILL, clean SIGTERM, kill -9 mid-drain."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.events import TaskCreated
from tests.integration.relay.conftest import Harness, first_seen_order, has_all, poll, written_order
from tests.support.relay_process import RelayProcess

pytestmark = [pytest.mark.integration, pytest.mark.fault]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for process in started:
        process.ensure_dead()


async def wait_role(process: RelayProcess, role: str, *, seconds: float = 30) -> bool:
    async def has_role() -> bool:
        return await process.role() == role

    return await poll(has_role, seconds=seconds, every=0.05)


async def wait_drained(relay: Harness, *, seconds: float = 60) -> bool:
    async def drained() -> bool:
        return await relay.unpublished() == 0

    return await poll(drained, seconds=seconds)


async def test_a_standby_takes_over_within_seconds_of_the_leader_being_killed(
    relay: Harness, processes: list[RelayProcess], tmp_path: Path
) -> None:
    settings = relay.settings.model_copy(update={"relay_batch_size": 50})
    leader = RelayProcess(settings, tmp_path, "a")
    processes.append(leader)
    assert await wait_role(leader, "leader"), leader.log()
    standby = RelayProcess(settings, tmp_path, "b")
    processes.append(standby)
    assert await wait_role(standby, "standby"), standby.log()

    users = [uuid.uuid4() for _ in range(20)]
    written: list[TaskCreated] = []

    async def keep_writing() -> None:
        for _ in range(100):
            written.extend(await relay.write(users=users, per_key=1))
            await asyncio.sleep(0.01)

    writing = asyncio.create_task(keep_writing())
    assert await poll(lambda: asyncio.sleep(0, result=len(written) >= 600), seconds=30)
    leader.kill()
    killed_at = time.monotonic()
    assert await wait_role(standby, "leader", seconds=15), standby.log()
    takeover = time.monotonic() - killed_at
    await writing
    assert await wait_drained(relay), standby.log()

    received = await relay.consume(until=has_all({str(e.event_id) for e in written}))
    assert {r.event_id for r in received} == {str(e.event_id) for e in written}
    assert first_seen_order(received) == written_order(written)
    print(f"standby took over {takeover:.2f} s after the leader was killed")


async def test_sigterm_releases_the_lock_and_exits_zero(
    relay: Harness, processes: list[RelayProcess], tmp_path: Path
) -> None:
    process = RelayProcess(relay.settings, tmp_path, "term")
    processes.append(process)
    assert await wait_role(process, "leader"), process.log()
    events = await relay.write(users=[uuid.uuid4()], per_key=20)
    assert await wait_drained(relay, seconds=20)
    metrics = await process.metrics()
    assert "relay_published_events_total 20.0" in metrics
    assert "relay_outbox_oldest_unpublished_age_seconds" in metrics

    assert process.terminate() == 0, process.log()
    assert '"relay stopped"' in process.log()
    successor = RelayProcess(relay.settings, tmp_path, "next")
    processes.append(successor)
    assert await wait_role(successor, "leader", seconds=15), successor.log()
    assert len(events) == 20


async def test_kill_9_at_random_points_while_draining_loses_nothing(
    relay: Harness, processes: list[RelayProcess], tmp_path: Path
) -> None:
    batch = 500
    settings = relay.settings.model_copy(update={"relay_batch_size": batch})
    users = [uuid.uuid4() for _ in range(50)]
    written: list[TaskCreated] = []
    for _ in range(5):
        written += await relay.write(users=users, per_key=40)  # 10,000 events in all
    assert len(written) == 10_000
    kills = 0
    for threshold in sorted(random.sample(range(1_000, 9_000), 3), reverse=True):
        process = RelayProcess(settings, tmp_path, f"k{kills}")
        processes.append(process)

        async def below(limit: int = threshold) -> bool:
            return await relay.unpublished() <= limit

        assert await poll(below, seconds=60, every=0.01), process.log()
        process.kill()
        kills += 1
    last = RelayProcess(settings, tmp_path, "last")
    processes.append(last)
    assert await wait_drained(relay), last.log()

    ids = {str(e.event_id) for e in written}
    received = await relay.consume(until=has_all(ids))
    assert {r.event_id for r in received} == ids
    duplicates = sum(n - 1 for n in Counter(r.event_id for r in received).values())
    assert duplicates <= kills * batch
    assert first_seen_order(received) == written_order(written)
    print(f"{kills} kills, {duplicates} duplicates")
