"""The heartbeat file says "alive" only while it is fresh."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.health import is_alive, remove_heartbeat, write_heartbeat

pytestmark = pytest.mark.unit


def test_a_fresh_heartbeat_is_alive_and_names_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    next_run = datetime(2026, 1, 2, tzinfo=UTC)

    write_heartbeat(path=path, next_digest_at=next_run)

    assert is_alive(path=path, interval_seconds=30)
    assert json.loads(path.read_text())["next_digest_at"] == next_run.isoformat()


def test_a_heartbeat_older_than_three_intervals_is_dead(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    write_heartbeat(path=path, next_digest_at=None)

    assert not is_alive(path=path, interval_seconds=30, now=time.time() + 91)


def test_a_missing_or_removed_heartbeat_is_dead(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    assert not is_alive(path=path, interval_seconds=30)

    write_heartbeat(path=path, next_digest_at=None)
    remove_heartbeat(path)

    assert not is_alive(path=path, interval_seconds=30)
