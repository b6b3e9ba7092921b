"""The relay's claim interval: the base for a slow stream, longer for a heavy one, and back."""

from __future__ import annotations

import pytest

from relay.forwarder import next_claim_interval

pytestmark = pytest.mark.unit


def step(current: float, claimed: int, *, base: int = 10, most: int = 40) -> float:
    return next_claim_interval(current, claimed, base_ms=base, max_ms=most)


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
    assert step(40, 19) == 20
    assert step(20, 9) == 10
    assert step(10, 1) == 10


def test_a_maximum_below_the_base_never_shortens_the_base() -> None:
    assert step(10, 50, base=10, most=5) == 10
