"""Every kind of change through nginx reaches Kafka as a valid event in its contracted shape."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.core.events import decode_event
from tests.e2e.native.conftest import NativeRun
from tests.e2e.native.users import sign_up
from tests.support.kafka import topic_records

pytestmark = pytest.mark.e2e

TASK_EVENTS = ("task.created", "task.updated", "task.completed", "task.reopened", "task.deleted")
DIGEST = "email.daily_digest.requested"
ENVELOPE = {"event_id", "type", "occurred_at"}
CONTRACT_FIELDS = {  # the exact payloads of the three named events (docs/contracts.md)
    "task.created": ENVELOPE | {"user_id", "task_id", "title"},
    "task.completed": ENVELOPE | {"user_id", "task_id"},
    DIGEST: ENVELOPE | {"user_id", "email", "stats", "undone_titles"},
}
WAIT_SECONDS = 60


async def _events_of(native: NativeRun, user_id: str, wanted: set[str]) -> list[dict[str, Any]]:
    """The user's records on the run's topic, read again until every wanted type is there."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        records = await topic_records(native.kafka_servers, native.topic)
        mine: dict[uuid.UUID, dict[str, Any]] = {}
        for record in records:  # at-least-once: a re-sent record is the same event, kept once
            if record["value"].get("user_id") == user_id:
                mine.setdefault(record["event_id"], record)
        if wanted <= {r["value"]["type"] for r in mine.values()}:
            return list(mine.values())
        if time.monotonic() > deadline:
            msg = f"after {WAIT_SECONDS} s only {sorted(r['value']['type'] for r in mine.values())}"
            raise TimeoutError(msg)
        await asyncio.sleep(0.5)


async def test_all_six_event_types_reach_kafka_in_their_contract_shape(native: NativeRun) -> None:
    with httpx.Client(base_url=native.api_url, timeout=30) as client:
        user = sign_up(client)
        task = user.add("draft the plan")
        user.change(task, title="draft the final plan")
        user.change(task, done=True)
        user.change(task, done=False)
        user.delete(task)
        user.change(user.add("keep this one"), done=True)
    digest = native.run_digest(datetime.now(UTC).date())
    assert digest.returncode == 0, digest.stdout + digest.stderr

    wanted = {"user.registered", *TASK_EVENTS, DIGEST}
    records = await _events_of(native, str(user.id), wanted)

    for record in records:
        value = record["value"]
        event = decode_event(json.dumps(value))
        assert event.type == value["type"] == record["headers"]["event_type"]
        assert record["key"] == str(user.id)  # per-user order
        if value["type"] in CONTRACT_FIELDS:
            assert set(value) == CONTRACT_FIELDS[value["type"]], value
    of_task = [r["value"] for r in records if r["value"].get("task_id") == task]
    assert [v["type"] for v in of_task] == list(TASK_EVENTS)  # in order: one user, one partition
    assert of_task[0]["title"] == "draft the plan"
    assert of_task[1]["title"] == "draft the final plan"
    [digest_event] = [r["value"] for r in records if r["value"]["type"] == DIGEST]
    assert digest_event["email"] == user.email
    assert digest_event["stats"] == {"total": 1, "done": 1, "undone": 0}
    assert digest_event["undone_titles"] == []
