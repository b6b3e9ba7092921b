"""The relay's claim interval: the base for a slow stream, longer for a heavy one, and back."""

from __future__ import annotations

import pytest

from relay.forwarder import next_claim_interval

pytestmark = pytest.mark.unit


def step(current: float, claimed: int, since: float | None = None, *, base: int = 10) -> float:
    """The next interval after a claim of `claimed` rows `since` ms after the previous one."""
    since = current if since is None else since
    return next_claim_interval(current, claimed, since, base_ms=base, max_ms=40)


def test_a_stream_slower_than_a_row_a_millisecond_keeps_the_base_interval() -> None:
    assert step(10, 0) == 10
    assert step(10, 5) == 10  # 500 events a second
    assert step(10, 10) == 10


def test_a_heavy_stream_doubles_the_interval_up_to_the_maximum() -> None:
    interval: float = 10
    seen = []
    for _ in range(4):
        claimed = int(1.3 * interval)  # 1,300 events a second
        interval = step(interval, claimed)
        seen.append(interval)
    assert seen == [20, 40, 40, 40]


def test_when_the_stream_slows_the_interval_halves_back_to_the_base() -> None:
    assert step(40, 29) == 20  # 725 events a second
    assert step(20, 9) == 10
    assert step(10, 1) == 10


def test_a_stream_between_750_and_1000_events_a_second_keeps_a_longer_interval() -> None:
    assert step(20, 16) == 20  # 800 a second: no flapping between 10 and 20 ms
    assert step(10, 8) == 10


def test_a_late_claim_is_no_heavier_stream_than_its_rate() -> None:
    # 500 events a second: a claim 30 ms after the previous one (a slow cycle, a pause) finds
    # 15 rows, more than the interval has milliseconds, and still keeps the interval short.
    assert step(10, 15, since=30) == 10
    assert step(20, 10, since=30) == 10  # and an interval grown by a burst comes back
    assert step(10, 40, since=30) == 20  # while 1,333 a second over the same wait is heavy


def test_a_maximum_below_the_base_never_shortens_the_base() -> None:
    assert next_claim_interval(10, 50, 10, base_ms=10, max_ms=5) == 10
