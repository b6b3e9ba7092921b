"""The operator commands' shared parts: time filters, who acts, and what a replay sends."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.core.dead_letters import REPLAYED_FROM_HEADER, DeadLetter
from app.core.operator import default_actor, parse_time


def test_an_age_is_that_long_before_now() -> None:
    before = datetime.now(UTC)
    parsed = parse_time("2h")
    after = datetime.now(UTC)
    assert before - timedelta(hours=2) <= parsed <= after - timedelta(hours=2)


def test_an_iso_time_without_a_zone_is_read_as_utc() -> None:
    assert parse_time("2026-12-01T10:00:00") == datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "2x", "", "h"])
def test_anything_else_is_refused_with_a_reason(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not an ISO 8601 time"):
        parse_time(value)


def test_the_actor_is_the_operator_variable_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR", "erin")
    assert default_actor() == "erin"
    monkeypatch.delenv("OPERATOR")
    assert "@" in default_actor()


def letter(headers: list[tuple[str, bytes]], value: bytes = b"{}") -> DeadLetter:
    return DeadLetter("events.dlq", 0, 7, 1_700_000_000_000, b"key", value, tuple(headers))


def test_a_replay_keeps_the_original_headers_and_event_id_and_drops_the_failure() -> None:
    event_id = str(uuid.uuid4())
    dead = letter(
        [
            ("event_type", b"email.daily_digest.requested"),
            ("event_id", event_id.encode()),
            ("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"),
            ("dlq-reason", b"smtp-550"),
            ("dlq-original-topic", b"events"),
            ("dlq-original-partition", b"2"),
            ("dlq-original-offset", b"41"),
        ]
    )
    assert dead.original == ("events", 2, 41)
    assert dead.replay_headers() == [
        *dead.headers[:3],
        (REPLAYED_FROM_HEADER, b"events.dlq:0:7"),
    ]
    assert str(dead.event_id) == event_id


def test_a_dead_letter_without_an_event_id_header_takes_it_from_its_value() -> None:
    event_id = uuid.uuid4()
    assert letter([], value=f'{{"event_id": "{event_id}"}}'.encode()).event_id == event_id
    assert letter([], value=b"\xffjunk").event_id is None
    assert letter([], value=b"[]").event_id is None


def test_a_dead_letter_without_a_failure_time_header_has_its_record_time() -> None:
    assert letter([]).failed_at == datetime.fromtimestamp(1_700_000_000, UTC)
