"""The claim-publish-mark loop on in-memory fakes: what is marked, parked, kept and counted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence

import pytest

from app.core.events import TaskCreated
from relay.forwarder import Forwarder
from relay.leases import LeaseLostError
from relay.publisher import Ack, BrokerUnavailableError, Failure, Message
from relay.purge import purge_published
from relay.settings import RelaySettings
from tests.unit.relay.fakes import FakeOutboxStore, FakePublisher

pytestmark = pytest.mark.unit


def settings(**changes: object) -> RelaySettings:
    base = RelaySettings(
        relay_batch_size=3,
        relay_max_attempts=2,
        relay_backoff_initial_seconds=0.001,
        relay_backoff_max_seconds=0.01,
        relay_claim_interval_ms=0,
        relay_poll_interval_seconds=30,
    )
    return base.model_copy(update=changes)


def events(user: uuid.UUID, count: int) -> list[TaskCreated]:
    return [TaskCreated(user_id=user, task_id=uuid.uuid4(), title=f"t{i}") for i in range(count)]


async def soon(condition: Callable[[], bool], *, tries: int = 5000) -> bool:
    """Whether `condition` holds within `tries` turns of the loop (a millisecond each)."""
    for _ in range(tries):
        if condition():
            return True
        await asyncio.sleep(0.001)
    return False


def parts() -> tuple[FakeOutboxStore, FakePublisher, Forwarder]:
    store, publisher = FakeOutboxStore(), FakePublisher()
    return store, publisher, Forwarder(store, publisher, settings())


async def test_a_cycle_publishes_one_batch_in_id_order_and_marks_exactly_it() -> None:
    store, publisher, forwarder = parts()
    written = events(uuid.uuid4(), 5)
    store.add(*written)

    assert await forwarder.run_once() == 3

    assert publisher.event_ids() == [str(e.event_id) for e in written[:3]]
    assert store.unpublished() == [e.event_id for e in written[3:]]
    assert forwarder.metrics.registry.get_sample_value("relay_published_events_total") == 3


async def test_the_record_carries_the_stored_json_the_user_key_and_the_recorded_headers() -> None:
    store, publisher, forwarder = parts()
    [event] = events(uuid.uuid4(), 1)
    store.add(event, headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})

    await forwarder.run_once()

    [message] = publisher.sent
    assert message.key == str(event.user_id).encode()
    assert message.value == event.model_dump_json().encode()
    assert [name for name, _ in message.headers] == [
        "event_type",
        "event_id",
        "content-type",
        *("ce_specversion", "ce_id", "ce_type", "ce_source"),
        *("ce_time", "ce_subject", "traceparent"),
    ]


async def test_a_broker_outage_marks_nothing_and_leaves_every_row_for_the_next_cycle() -> None:
    store, publisher, forwarder = parts()
    written = events(uuid.uuid4(), 2)
    store.add(*written)
    publisher.down = True

    with pytest.raises(BrokerUnavailableError):
        await forwarder.run_once()

    assert store.claims == 0, "during an outage nothing is even claimed"
    assert store.unpublished() == [e.event_id for e in written]


async def test_a_rejected_row_is_parked_after_max_attempts_and_never_blocks_the_rest() -> None:
    store, publisher, forwarder = parts()
    poison_user = uuid.uuid4()
    [poison] = events(poison_user, 1)
    others = events(uuid.uuid4(), 4)
    store.add(poison, *others)
    publisher.reject_keys.add(str(poison_user).encode())

    assert await forwarder.run_once() == 2  # a batch of three, the poison one among them
    assert store.rows[1].attempts == 1
    assert not store.rows[1].parked
    assert await forwarder.run_once() == 2  # the second attempt parks it
    assert store.rows[1].parked
    assert store.rows[1].last_error == "MessageSizeTooLargeError: too big"

    assert store.unpublished() == []
    assert publisher.event_ids() == [str(e.event_id) for e in others]
    registry = forwarder.metrics.registry
    assert registry.get_sample_value("relay_parked_events_total") == 1
    assert registry.get_sample_value("relay_errors_total", {"kind": "rejected"}) == 2


async def test_a_relay_that_lost_its_lease_publishes_nothing() -> None:
    store, publisher, forwarder = parts()
    store.add(*events(uuid.uuid4(), 2))
    store.fenced = True

    with pytest.raises(LeaseLostError):
        await forwarder.run_once()

    assert publisher.sent == []
    assert len(store.unpublished()) == 2


async def test_the_loop_rides_out_an_outage_and_drains_once_the_broker_is_back() -> None:
    store, publisher, forwarder = parts()
    written = events(uuid.uuid4(), 7)
    store.add(*written)
    publisher.down = True
    wakeup, stop = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(forwarder.run(wakeup=wakeup, stop=stop))
    registry = forwarder.metrics.registry
    try:
        assert await soon(
            lambda: (registry.get_sample_value("relay_errors_total", {"kind": "broker"}) or 0) >= 3
        )
        assert not running.done(), "an outage must never end the loop"
        publisher.down = False
        assert await soon(lambda: not store.unpublished())
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)

    assert publisher.event_ids() == [str(e.event_id) for e in written]


async def test_the_backlog_gauges_count_waiting_and_parked_rows() -> None:
    store, publisher, forwarder = parts()
    poison_user = uuid.uuid4()
    store.add(*events(poison_user, 1), *events(uuid.uuid4(), 5))
    publisher.reject_keys.add(str(poison_user).encode())
    await forwarder.run_once()
    await forwarder.run_once()

    await forwarder.metrics.refresh_backlog(store)

    registry = forwarder.metrics.registry
    assert registry.get_sample_value("relay_outbox_unpublished") == 1
    assert registry.get_sample_value("relay_outbox_parked") == 1


async def test_purging_deletes_published_rows_in_batches_and_keeps_the_rest() -> None:
    store, _, forwarder = parts()
    store.add(*events(uuid.uuid4(), 5))
    await forwarder.run_once()  # three published, two waiting

    assert await purge_published(store, retention_seconds=-60, batch_size=2) == 3

    assert len(store.rows) == 2
    assert len(store.unpublished()) == 2


async def test_each_row_is_marked_with_the_partition_and_offset_of_its_own_ack() -> None:
    store, publisher, forwarder = parts()
    user, poison = uuid.uuid4(), uuid.uuid4()
    store.add(*events(user, 1), *events(poison, 1), *events(user, 1))
    publisher.reject_keys.add(str(poison).encode())

    assert await forwarder.run_once() == 2
    # The fake acks at partition 0, offsets in send order; the refused row gets none.
    assert [s.kafka for s in store.rows.values()] == [(0, 0), None, (0, 1)]


async def test_a_backlog_run_claims_the_next_batch_while_kafka_takes_this_one() -> None:
    store, publisher, forwarder = parts()
    written = events(uuid.uuid4(), 8)
    store.add(*written)

    assert await forwarder.run_backlog() == 8

    assert publisher.event_ids() == [str(e.event_id) for e in written], "one key, in order"
    assert store.unpublished() == []
    # Batches of three: each claim made during the previous batch's transaction left out the
    # rows of the batches not yet marked; the short third batch ended the run.
    assert store.excluded == [[], [1, 2, 3], [4, 5, 6, 1, 2, 3]]


async def test_a_backlog_run_publishes_nothing_it_claimed_ahead_once_the_broker_fails() -> None:
    store, publisher, forwarder = parts()
    written = events(uuid.uuid4(), 9)
    store.add(*written)
    sends = 0
    publish = publisher.publish

    async def failing_second_batch(messages: Sequence[Message]) -> list[Ack | Failure]:
        nonlocal sends
        sends += 1
        if sends == 2:
            raise BrokerUnavailableError("the broker went away")
        return await publish(messages)

    publisher.publish = failing_second_batch  # type: ignore[method-assign]

    with pytest.raises(BrokerUnavailableError):
        await forwarder.run_backlog()

    assert publisher.event_ids() == [str(e.event_id) for e in written[:3]]
    assert store.unpublished() == [e.event_id for e in written[3:]], "the first batch is marked"
    assert store.claims == 3, "the third batch was claimed ahead, then dropped unsent"


async def test_a_backlog_run_stops_at_a_batch_the_broker_failed_in_part() -> None:
    store, publisher, forwarder = parts()
    written = events(uuid.uuid4(), 9)
    store.add(*written)
    publish = publisher.publish

    async def one_transient_failure(messages: Sequence[Message]) -> list[Ack | Failure]:
        outcomes = await publish(messages)
        if len(publisher.sent) == 6:  # the second batch: its last message times out
            publisher.sent.pop()
            outcomes[-1] = Failure("KafkaTimeoutError", permanent=False)
        return outcomes

    publisher.publish = one_transient_failure  # type: ignore[method-assign]

    with pytest.raises(BrokerUnavailableError):
        await forwarder.run_backlog()

    # The rows after the failed one, claimed ahead, were not sent before it.
    assert publisher.event_ids() == [str(e.event_id) for e in written[:5]]
    assert store.unpublished() == [e.event_id for e in written[5:]]
