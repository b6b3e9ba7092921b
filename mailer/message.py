"""What a handler receives and returns, and the failures that decide what happens next."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka record as received: kept byte-for-byte so a dead letter carries the original."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


class Outcome(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"  # already in processed_events: skipped
    IGNORED = "ignored"  # not a digest: acknowledged
    DEAD_LETTERED = "dead_lettered"


type Handler = Callable[[Message], Coroutine[Any, Any, Outcome]]


class PermanentError(Exception):
    """Retrying cannot help (undecodable message, SMTP 5xx): dead-letter it and move on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class TransientError(Exception):
    """Worth retrying with backoff (connection refused, timeout, SMTP 4xx)."""


class DatabaseUnavailableError(Exception):
    """PostgreSQL cannot be reached: pause and retry, never skip and never resend."""
