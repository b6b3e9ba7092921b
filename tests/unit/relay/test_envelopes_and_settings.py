"""Pure parts of the relay: the envelope of a row, settings from the environment, health, waits."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from psycopg.conninfo import conninfo_to_dict

from relay.envelope import to_message
from relay.metrics import Health
from relay.settings import RelaySettings
from relay.store import ClaimedRow
from relay.waits import wait_any

pytestmark = pytest.mark.unit


def row(headers: dict[str, str] | None = None) -> ClaimedRow:
    """A claimed row."""
    return ClaimedRow(
        id=1,
        event_id=str(uuid.UUID("2f1c0e5e-7a9b-4c3d-8e2f-1a2b3c4d5e6f")),
        topic="events",
        key="8d4b4f2c-5b1e-4d8e-9a53-0d5f3c1f0a11",
        type="task.created",
        value='{"type": "task.created", "title": "caf\u00e9"}',
        headers=headers,
        created=1_700_000_000.0,
    )


def test_the_envelope_carries_the_stored_json_bytes_the_key_and_the_event_headers() -> None:
    message = to_message(row())
    assert message.topic == "events"
    assert message.key == b"8d4b4f2c-5b1e-4d8e-9a53-0d5f3c1f0a11"
    assert message.value == '{"type": "task.created", "title": "café"}'.encode()
    assert dict(message.headers) == {
        "event_type": b"task.created",
        "event_id": b"2f1c0e5e-7a9b-4c3d-8e2f-1a2b3c4d5e6f",
        "content-type": b"application/json",
        "ce_specversion": b"1.0",
        "ce_id": b"2f1c0e5e-7a9b-4c3d-8e2f-1a2b3c4d5e6f",
        "ce_type": b"task.created",
        "ce_source": b"/eventful-todo",
    }


def test_a_recorded_traceparent_travels_but_cannot_override_the_event_headers() -> None:
    headers = {"traceparent": "00-abc-def-01", "event_type": "forged", "ce_id": "forged"}
    message = to_message(row(headers=headers))
    assert dict(message.headers)["traceparent"] == b"00-abc-def-01"
    assert dict(message.headers)["event_type"] == b"task.created"
    assert dict(message.headers)["ce_id"] == b"2f1c0e5e-7a9b-4c3d-8e2f-1a2b3c4d5e6f"
    assert [name for name, _ in message.headers].count("ce_id") == 1


def test_the_recorded_cloudevents_time_and_subject_travel_after_the_required_headers() -> None:
    headers = {"ce_time": "2026-12-01T00:00:00Z", "ce_subject": "tasks/x"}
    message = to_message(row(headers=headers))
    assert [name for name, _ in message.headers][-2:] == ["ce_time", "ce_subject"]


def test_settings_come_from_relay_variables_and_give_a_plain_libpq_conninfo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://relay:s3cret@db:5432/todo")
    monkeypatch.setenv("RELAY_BATCH_SIZE", "250")
    monkeypatch.setenv("RELAY_MAX_ATTEMPTS", "7")
    settings = RelaySettings()
    assert settings.relay_batch_size == 250
    assert settings.relay_max_attempts == 7
    assert settings.libpq_conninfo == "host=db port=5432 dbname=todo user=relay password=s3cret"


def test_connection_options_survive_the_conversion_for_psycopg() -> None:
    url = "postgresql+psycopg://relay@db/todo?options=-c%20role%3Dtodo_relay&sslmode=require"
    settings = RelaySettings(database_url=url)
    assert conninfo_to_dict(settings.libpq_conninfo) == {
        "host": "db",
        "dbname": "todo",
        "user": "relay",
        "options": "-c role=todo_relay",
        "sslmode": "require",
    }


def test_a_batch_size_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="relay_batch_size"):
        RelaySettings()


def test_health_turns_unhealthy_when_the_loop_stops_reporting() -> None:
    health = Health(stale_after=0.0)
    health.beat("leader")
    report = health.report()
    assert not report.healthy
    assert report.detail["status"] == "stuck"
    assert report.detail["role"] == "leader"
    assert Health(stale_after=60).report().healthy


async def test_wait_any_returns_when_one_event_is_set() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    asyncio.get_running_loop().call_soon(second.set)
    await asyncio.wait_for(wait_any(first, second, seconds=30), 5)
    assert second.is_set()
    assert not first.is_set()


async def test_wait_any_gives_up_after_its_timeout() -> None:
    await asyncio.wait_for(wait_any(asyncio.Event(), seconds=0.01), 5)
