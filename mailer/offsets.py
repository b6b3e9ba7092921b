"""Which offset each partition may commit when messages finish out of order."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Partition:
    in_flight: set[int] = field(default_factory=set)
    next_offset: int | None = None  # one past the highest offset started
    committed: int | None = None


class OffsetTracker[P: Hashable]:
    """Per partition: offsets started in fetch order, finished in any order.

    The committable offset is the lowest offset still in flight, or one past the highest started
    when none is. Offsets are never assumed contiguous (compaction and transaction markers leave
    gaps), so a commit never skips a message that was fetched and not finished.
    """

    def __init__(self) -> None:
        self._partitions: dict[P, _Partition] = {}

    def started(self, partition: P, offset: int) -> None:
        """Record a fetched offset; going backwards (the consumer was reset) starts afresh."""
        state = self._partitions.get(partition)
        if state is None or (state.next_offset is not None and offset < state.next_offset):
            state = self._partitions[partition] = _Partition()
        state.in_flight.add(offset)
        state.next_offset = offset + 1

    def finished(self, partition: P, offset: int) -> None:
        """Mark one offset done; finishing a forgotten partition is a no-op."""
        state = self._partitions.get(partition)
        if state is not None:
            state.in_flight.discard(offset)

    def in_flight(self, partition: P) -> int:
        state = self._partitions.get(partition)
        return len(state.in_flight) if state else 0

    def done_upto(self, partition: P) -> int | None:
        """The next offset not yet finished (what a commit now would store), if known."""
        state = self._partitions.get(partition)
        if state is None or state.next_offset is None:
            return None
        return min(state.in_flight) if state.in_flight else state.next_offset

    def committable(self, partitions: Iterable[P] | None = None) -> dict[P, int]:
        """Offsets (next to consume) that moved since the last `mark_committed`."""
        chosen = self._partitions.keys() if partitions is None else partitions
        result: dict[P, int] = {}
        for partition in chosen:
            state = self._partitions.get(partition)
            if state is None or state.next_offset is None:
                continue
            offset = min(state.in_flight) if state.in_flight else state.next_offset
            if state.committed is None or offset > state.committed:
                result[partition] = offset
        return result

    def mark_committed(self, offsets: dict[P, int]) -> None:
        for partition, offset in offsets.items():
            state = self._partitions.get(partition)
            if state is not None:
                state.committed = offset

    def forget(self, partitions: Iterable[P]) -> None:
        """Drop revoked partitions; their late finishes are then ignored."""
        for partition in partitions:
            self._partitions.pop(partition, None)
