"""The commit position of a partition never passes a message that is still in flight."""

from __future__ import annotations

import pytest

from mailer.offsets import OffsetTracker

pytestmark = pytest.mark.unit


def test_nothing_is_committable_before_anything_started() -> None:
    assert OffsetTracker[int]().committable() == {}


def test_finishing_in_order_commits_one_past_the_last() -> None:
    tracker = OffsetTracker[int]()
    for offset in (0, 1, 2):
        tracker.started(0, offset)
        tracker.finished(0, offset)
    assert tracker.committable() == {0: 3}


def test_a_slow_message_holds_the_commit_back_while_later_ones_finish() -> None:
    tracker = OffsetTracker[int]()
    for offset in (5, 6, 7):
        tracker.started(0, offset)
    tracker.finished(0, 6)
    tracker.finished(0, 7)
    assert tracker.committable() == {0: 5}
    tracker.finished(0, 5)
    assert tracker.committable() == {0: 8}


def test_gaps_in_offsets_are_not_mistaken_for_unfinished_messages() -> None:
    tracker = OffsetTracker[int]()
    for offset in (10, 14):  # 11-13 compacted away or transaction markers
        tracker.started(0, offset)
    tracker.finished(0, 14)
    assert tracker.committable() == {0: 10}
    tracker.finished(0, 10)
    assert tracker.committable() == {0: 15}


def test_partitions_are_tracked_independently() -> None:
    tracker = OffsetTracker[str]()
    tracker.started("a", 0)
    tracker.started("b", 0)
    tracker.finished("b", 0)
    assert tracker.committable() == {"a": 0, "b": 1}
    assert tracker.in_flight("a") == 1


def test_only_offsets_that_moved_since_the_last_commit_are_returned() -> None:
    tracker = OffsetTracker[int]()
    tracker.started(0, 0)
    tracker.finished(0, 0)
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() == {}
    tracker.started(0, 1)
    assert tracker.committable() == {}  # still 1: in flight
    tracker.finished(0, 1)
    assert tracker.committable() == {0: 2}


def test_a_forgotten_partition_ignores_late_finishes() -> None:
    tracker = OffsetTracker[int]()
    tracker.started(0, 3)
    tracker.forget([0])
    tracker.finished(0, 3)
    assert tracker.committable() == {}
    assert tracker.in_flight(0) == 0


def test_a_consumer_reset_to_an_earlier_offset_starts_the_partition_afresh() -> None:
    tracker = OffsetTracker[int]()
    tracker.started(0, 4)
    tracker.finished(0, 4)
    tracker.mark_committed(tracker.committable())
    tracker.started(0, 2)
    assert tracker.committable() == {0: 2}
    tracker.finished(0, 2)
    assert tracker.committable() == {0: 3}


def test_committable_can_be_limited_to_some_partitions() -> None:
    tracker = OffsetTracker[int]()
    for partition in (0, 1):
        tracker.started(partition, 0)
        tracker.finished(partition, 0)
    assert tracker.committable([1]) == {1: 1}
