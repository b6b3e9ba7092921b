"""Retry wrappers: a bounded one for transient SMTP errors, an endless one for the database."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from mailer.message import (
    DatabaseUnavailableError,
    Handler,
    Message,
    Outcome,
    PermanentError,
    TransientError,
)
from mailer.metrics import MailerMetrics

log = structlog.get_logger(__name__)


def backoff(*, initial: float, maximum: float) -> wait_base:
    """Exponential with full jitter, so many mailers do not retry in lockstep."""
    return wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)


def _announce(
    kind: str, metrics: MailerMetrics, message: Message
) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        metrics.retries.labels(kind).inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "retrying",
            kind=kind,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error=str(error),
            partition=message.partition,
            offset=message.offset,
        )

    return before_sleep


def retry_transient(
    handler: Handler, *, attempts: int, wait: wait_base, metrics: MailerMetrics
) -> Handler:
    """Retry `TransientError` up to `attempts` tries, then give up as a permanent failure."""

    async def handle(message: Message) -> Outcome:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(attempts),
            wait=wait,
            reraise=True,
            before_sleep=_announce("smtp", metrics, message),
        )
        try:
            return await retrying(handler, message)
        except TransientError as error:
            raise PermanentError("transient-retries-exhausted", str(error)) from error

    return handle


def retry_database(handler: Handler, *, wait: wait_base, metrics: MailerMetrics) -> Handler:
    """Retry forever while PostgreSQL is away: the message stays in flight, its offset unpassed."""

    async def handle(message: Message) -> Outcome:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(DatabaseUnavailableError),
            wait=wait,
            reraise=True,
            before_sleep=_announce("database", metrics, message),
        )
        return await retrying(handler, message)

    return handle
