"""Retry wrappers: bounded for SMTP trouble, endless for a database outage."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from tenacity import AsyncRetrying, RetryCallState, wait_none

from mailer.message import (
    DatabaseUnavailableError,
    Message,
    Outcome,
    PermanentError,
    TransientError,
)
from mailer.metrics import MailerMetrics
from mailer.retry import backoff, retry_database, retry_transient
from tests.unit.mailer.factories import message

pytestmark = pytest.mark.unit


class Flaky:
    """A handler that raises the given errors in turn, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, _: Message) -> Outcome:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Outcome.SENT


@pytest.fixture
def metrics() -> MailerMetrics:
    return MailerMetrics(CollectorRegistry())


def retries(metrics: MailerMetrics, kind: str) -> float:
    return metrics.registry.get_sample_value("mailer_retries_total", {"kind": kind}) or 0.0


async def test_transient_errors_are_retried_until_the_send_succeeds(metrics: MailerMetrics) -> None:
    inner = Flaky(TransientError("451"), TransientError("timeout"))
    handler = retry_transient(inner, attempts=5, wait=wait_none(), metrics=metrics)
    assert await handler(message(b"")) is Outcome.SENT
    assert inner.calls == 3
    assert retries(metrics, "smtp") == 2


async def test_too_many_transient_errors_become_a_permanent_failure(metrics: MailerMetrics) -> None:
    inner = Flaky(*(TransientError("451") for _ in range(3)))
    handler = retry_transient(inner, attempts=3, wait=wait_none(), metrics=metrics)
    with pytest.raises(PermanentError) as failure:
        await handler(message(b""))
    assert failure.value.reason == "transient-retries-exhausted"
    assert inner.calls == 3


async def test_permanent_errors_are_not_retried(metrics: MailerMetrics) -> None:
    inner = Flaky(PermanentError("smtp-550", "no such user"))
    handler = retry_transient(inner, attempts=5, wait=wait_none(), metrics=metrics)
    with pytest.raises(PermanentError):
        await handler(message(b""))
    assert inner.calls == 1


async def test_a_database_outage_is_waited_out_however_long(metrics: MailerMetrics) -> None:
    inner = Flaky(*(DatabaseUnavailableError("refused") for _ in range(50)))
    handler = retry_database(inner, wait=wait_none(), metrics=metrics)
    assert await handler(message(b"")) is Outcome.SENT
    assert inner.calls == 51
    assert retries(metrics, "database") == 50


async def test_a_database_outage_is_not_spent_against_the_smtp_bound(
    metrics: MailerMetrics,
) -> None:
    inner = Flaky(*(DatabaseUnavailableError("refused") for _ in range(5)))
    smtp = retry_transient(inner, attempts=2, wait=wait_none(), metrics=metrics)
    handler = retry_database(smtp, wait=wait_none(), metrics=metrics)
    assert await handler(message(b"")) is Outcome.SENT
    assert retries(metrics, "smtp") == 0


def test_backoff_grows_and_stays_under_its_cap() -> None:
    wait = backoff(initial=0.5, maximum=4.0)

    def attempt(n: int) -> RetryCallState:
        state = RetryCallState(retry_object=AsyncRetrying(), fn=None, args=(), kwargs={})
        state.attempt_number = n
        return state

    waits = [wait(attempt(n)) for n in range(1, 12)]
    assert all(0.5 <= w <= 4.0 for w in waits)
    assert waits[-1] == 4.0
