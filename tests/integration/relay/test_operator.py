"""The relay's operator commands, run as `python -m relay ...` against real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from relay.forwarder import Forwarder
from relay.publisher import KafkaPublisher
from relay.settings import RelaySettings
from tests.integration.relay.conftest import Harness, has_all
from tests.integration.relay.test_failures import outbox_state
from tests.support import ROOT

pytestmark = pytest.mark.integration


def relay_cli(settings: RelaySettings, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m relay ARGS` as an operator runs it: configured by the environment."""
    env = os.environ | {
        "DATABASE_URL": settings.sqlalchemy_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_DLQ_TOPIC": f"{settings.kafka_topic}.dlq",
        "OPERATOR": "alice@ops",
        "LOG_JSON": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def journey(settings: RelaySettings, event_id: uuid.UUID) -> dict[str, Any]:
    done = relay_cli(settings, "trace", str(event_id), "--json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


async def drain(forwarder: Forwarder) -> None:
    while await forwarder.run_once() > 0:
        pass


async def test_trace_prints_the_partition_and_offset_kafka_acknowledged_for_the_event(
    relay: Harness,
) -> None:
    events = await relay.write(users=[uuid.uuid4(), uuid.uuid4(), uuid.uuid4()], per_key=2)
    publisher = KafkaPublisher(relay.settings)
    try:
        await drain(Forwarder(relay.store, publisher, relay.settings))
    finally:
        await publisher.stop()
    received = await relay.consume(until=has_all({str(e.event_id) for e in events}))
    on_kafka = {r.event_id: (r.partition, r.offset) for r in received}

    for event in events:
        outbox = journey(relay.settings, event.event_id)["outbox"]
        assert outbox["state"] == "published"
        assert (outbox["partition"], outbox["offset"]) == on_kafka[str(event.event_id)]
    assert outbox["topic"] == relay.topic
    assert outbox["attempts"] == 0

    readable = relay_cli(relay.settings, "trace", str(events[0].event_id))
    assert readable.returncode == 0, readable.stderr
    partition, offset = on_kafka[str(events[0].event_id)]
    assert f"partition {partition}, offset {offset}" in readable.stdout
    assert "not its business" in readable.stdout  # a task event never reaches the mailer


async def test_trace_of_a_task_follows_every_event_of_that_task(relay: Harness) -> None:
    [created] = await relay.write(users=[uuid.uuid4()], per_key=1)
    await relay.write(users=[uuid.uuid4()], per_key=2)  # other tasks' events

    done = relay_cli(relay.settings, "trace", "--task", str(created.task_id), "--json")
    assert done.returncode == 0, done.stderr
    assert [j["event_id"] for j in json.loads(done.stdout)] == [str(created.event_id)]
    unknown = relay_cli(relay.settings, "trace", "--task", str(uuid.uuid4()))
    assert unknown.returncode == 1
    assert "no outbox rows for task" in unknown.stdout
    nobody = relay_cli(relay.settings, "trace", "--digest-for", "x@y.z", "--day", "2026-12-01")
    assert (nobody.returncode, nobody.stdout.strip()) == (1, "no user with the email x@y.z")
    both = relay_cli(relay.settings, "trace", str(created.event_id), "--task", str(uuid.uuid4()))
    assert both.returncode == 2


async def test_trace_of_an_unknown_event_says_so_and_exits_1(relay: Harness) -> None:
    unknown = uuid.uuid4()
    done = relay_cli(relay.settings, "trace", str(unknown))
    assert done.returncode == 1
    assert f"no event {unknown}" in done.stdout


async def test_trace_refuses_what_is_not_an_event_id(relay: Harness) -> None:
    done = relay_cli(relay.settings, "trace", "robert'); DROP TABLE outbox;--")
    assert done.returncode == 2
    assert "invalid UUID value" in done.stderr


async def park_one_oversized(relay: Harness) -> tuple[uuid.UUID, RelaySettings]:
    """Write a too-big event between small ones and let the relay park it."""
    tight = relay.settings.model_copy(
        update={"relay_max_attempts": 1, "relay_max_request_size": 4096}
    )
    user = uuid.uuid4()
    await relay.write(users=[user], per_key=1)
    [big] = await relay.write(users=[user], per_key=1, title="x" * 8000)
    await relay.write(users=[user], per_key=1)
    publisher = KafkaPublisher(tight)
    try:
        await drain(Forwarder(relay.store, publisher, tight))
    finally:
        await publisher.stop()
    assert (await outbox_state(relay.engine, big.event_id))[1:3] == (True, False)
    return big.event_id, tight


async def test_a_parked_row_is_listed_shown_replayed_once_fixed_and_published_with_its_id(
    relay: Harness,
) -> None:
    parked_id, _ = await park_one_oversized(relay)
    settings = relay.settings

    listed = relay_cli(settings, "parked", "list", "--reason", "MessageSizeTooLarge", "--json")
    assert [r["event_id"] for r in json.loads(listed.stdout)] == [str(parked_id)]
    none = relay_cli(settings, "parked", "list", "--type", "task.deleted", "--json")
    assert json.loads(none.stdout) == []
    shown = json.loads(relay_cli(settings, "parked", "show", str(parked_id)).stdout)
    assert shown["state"] == "parked"
    assert "MessageSizeTooLargeError" in shown["last_error"]
    assert shown["payload"]["title"] == "x" * 8000 + "0"
    assert journey(settings, parked_id)["outbox"]["state"] == "parked"

    dry = relay_cli(settings, "parked", "replay", str(parked_id), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would replay {parked_id}" in dry.stdout
    assert (await outbox_state(relay.engine, parked_id))[1] is True

    replayed = relay_cli(settings, "parked", "replay", str(parked_id))
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {parked_id}" in replayed.stdout
    logged = [json.loads(line) for line in replayed.stderr.splitlines() if line.startswith("{")]
    assert {
        (e["event"], e["actor"], e["action"], e["event_id"]) for e in logged if "actor" in e
    } == {("operator action", "alice@ops", "replay", str(parked_id))}

    # Fixed: the default request size takes it. The same row goes out, with the same id.
    publisher = KafkaPublisher(settings)
    try:
        await drain(Forwarder(relay.store, publisher, settings))
    finally:
        await publisher.stop()
    received = await relay.consume(until=has_all({str(parked_id)}))
    assert [r.event_id for r in received].count(str(parked_id)) == 1
    trace = journey(settings, parked_id)
    assert trace["outbox"]["state"] == "published"
    assert [(a["actor"], a["tool"], a["action"]) for a in trace["actions"]] == [
        ("alice@ops", "relay parked", "replay")
    ]


async def test_discard_needs_ids_or_all_and_deletes_only_what_the_filters_match(
    relay: Harness,
) -> None:
    parked_id, _ = await park_one_oversized(relay)
    settings = relay.settings

    neither = relay_cli(settings, "parked", "discard")
    assert neither.returncode == 2
    elsewhere = relay_cli(settings, "parked", "discard", "--all", "--type", "task.deleted")
    assert elsewhere.stdout.strip() == "no parked rows match"
    not_parked = relay_cli(settings, "parked", "discard", str(uuid.uuid4()))
    assert not_parked.returncode == 1

    done = relay_cli(settings, "parked", "discard", "--all", "--type", "task.created")
    assert done.returncode == 0, done.stderr
    assert f"discarded {parked_id}" in done.stdout
    async with relay.engine.connect() as conn:
        left = await conn.scalar(
            text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": parked_id}
        )
        action = (
            await conn.execute(text("SELECT actor, action, target, detail FROM operator_actions"))
        ).one()
    assert left == 0
    assert (action.actor, action.action) == ("alice@ops", "discard")
    assert action.target.startswith("outbox:")
    assert "MessageSizeTooLargeError" in action.detail["last_error"]
    trace = journey(settings, parked_id)  # the row is gone; the audit still knows it
    assert trace["outbox"] is None
    assert trace["actions"][0]["action"] == "discard"
