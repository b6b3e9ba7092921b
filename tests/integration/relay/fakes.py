"""An in-memory publisher: remembers what it sent, can be down, can reject chosen messages."""

from __future__ import annotations

from collections.abc import Sequence

from relay.publisher import BrokerUnavailableError, Failure, Message


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.down = False
        self.reject_keys: set[bytes] = set()

    async def ensure_ready(self) -> None:
        if self.down:
            raise BrokerUnavailableError("fake broker is down")

    async def publish(self, messages: Sequence[Message]) -> list[Failure | None]:
        await self.ensure_ready()
        outcomes: list[Failure | None] = []
        for m in messages:
            if m.key in self.reject_keys:
                outcomes.append(Failure("MessageSizeTooLargeError: too big", permanent=True))
            else:
                self.sent.append(m)
                outcomes.append(None)
        return outcomes

    def event_ids(self) -> list[str]:
        return [dict(m.headers)["event_id"].decode() for m in self.sent]
