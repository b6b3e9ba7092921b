"""Real `python -m relay` processes: sharing and fail-over after SIGKILL, a clean SIGTERM that
hands the partitions on at once, kill -9 mid-drain."""

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


async def wait_owned(process: RelayProcess, partitions: int, *, seconds: float = 30) -> bool:
    async def owns() -> bool:
        return await process.partitions_owned() == partitions

    return await poll(owns, seconds=seconds, every=0.05)


async def wait_drained(relay: Harness, *, seconds: float = 60) -> bool:
    async def drained() -> bool:
        return await relay.unpublished() == 0

    return await poll(drained, seconds=seconds)


async def test_two_relays_share_the_partitions_and_one_takes_all_when_the_other_is_killed(
    relay: Harness, processes: list[RelayProcess], tmp_path: Path
) -> None:
    settings = relay.settings.model_copy(update={"relay_batch_size": 50})
    everything, half = settings.relay_partitions, settings.relay_partitions // 2
    first = RelayProcess(settings, tmp_path, "a")
    processes.append(first)
    assert await wait_owned(first, everything), first.log()
    second = RelayProcess(settings, tmp_path, "b")
    processes.append(second)
    assert await wait_owned(second, half), second.log()
    assert await wait_owned(first, half), first.log()

    users = [uuid.uuid4() for _ in range(20)]
    written: list[TaskCreated] = []

    async def keep_writing() -> None:
        for _ in range(100):
            written.extend(await relay.write(users=users, per_key=1))
            await asyncio.sleep(0.01)

    writing = asyncio.create_task(keep_writing())
    assert await poll(lambda: asyncio.sleep(0, result=len(written) >= 600), seconds=30)
    first.kill()
    killed_at = time.monotonic()
    assert await wait_owned(second, everything, seconds=15), second.log()
    takeover = time.monotonic() - killed_at
    await writing
    assert await wait_drained(relay), second.log()

    received = await relay.consume(until=has_all({str(e.event_id) for e in written}))
    assert {r.event_id for r in received} == {str(e.event_id) for e in written}
    assert first_seen_order(received) == written_order(written)
    assert "previous owner fenced" in second.log()
    print(f"the survivor owned every partition {takeover:.2f} s after the kill")


async def test_sigterm_releases_the_leases_and_exits_zero(
    relay: Harness, processes: list[RelayProcess], tmp_path: Path
) -> None:
    # A lease far longer than the test: the successor gets the partitions because they were
    # released, not because they expired.
    settings = relay.settings.model_copy(update={"relay_lease_seconds": 120.0})
    process = RelayProcess(settings, tmp_path, "term")
    processes.append(process)
    assert await wait_owned(process, settings.relay_partitions), process.log()
    events = await relay.write(users=[uuid.uuid4()], per_key=20)
    assert await wait_drained(relay, seconds=20)
    metrics = await process.metrics()
    assert "relay_published_events_total 20.0" in metrics
    assert "relay_outbox_oldest_unpublished_age_seconds" in metrics

    assert process.terminate() == 0, process.log()
    assert '"relay stopped"' in process.log()
    successor = RelayProcess(settings, tmp_path, "next")
    processes.append(successor)
    assert await wait_owned(successor, settings.relay_partitions, seconds=15), successor.log()
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
