"""A digest run that lost the database is retried whole; other failures are not retried."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from scheduler.jobs import retrying

pytestmark = pytest.mark.unit


class FlakyRun:
    """Fails with a connection error `failures` times, then returns the attempt number."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or OperationalError("SELECT 1", {}, ConnectionRefusedError())
        self.attempts = 0

    async def __call__(self) -> int:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error
        return self.attempts


async def run(flaky: FlakyRun, give_up_after: timedelta) -> int:
    async for attempt in retrying(give_up_after=give_up_after, max_wait_seconds=0):
        with attempt:
            return await flaky()
    raise AssertionError("unreachable")


async def test_a_run_that_lost_the_database_is_retried_until_it_succeeds() -> None:
    flaky = FlakyRun(failures=3)

    assert await run(flaky, timedelta(minutes=5)) == 4


async def test_a_bug_is_not_retried() -> None:
    flaky = FlakyRun(failures=1, error=ValueError("bug"))

    with pytest.raises(ValueError, match="bug"):
        await run(flaky, timedelta(minutes=5))
    assert flaky.attempts == 1


async def test_retrying_stops_when_the_grace_period_is_over() -> None:
    flaky = FlakyRun(failures=100)

    with pytest.raises(OperationalError):
        await run(flaky, timedelta(0))
    assert flaky.attempts == 1
