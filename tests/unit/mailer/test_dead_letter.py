"""The poison-queue wrapper parks permanent failures with their reason and moves on."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from tenacity import wait_none

from mailer.dead_letter import dead_letter, dead_letter_headers
from mailer.message import Message, Outcome, PermanentError, TransientError
from mailer.metrics import MailerMetrics
from tests.unit.mailer.factories import message
from tests.unit.mailer.fakes import FakeDeadLetters

pytestmark = pytest.mark.unit


async def fails_for_good(_: Message) -> Outcome:
    raise PermanentError("smtp-recipient-refused", "550 no such mailbox")


async def sends(_: Message) -> Outcome:
    return Outcome.SENT


async def test_a_permanent_failure_is_dead_lettered_with_its_reason() -> None:
    letters = FakeDeadLetters()
    original = message(b"payload", offset=7)
    handler = dead_letter(
        fails_for_good,
        letters=letters,
        wait=wait_none(),
        metrics=MailerMetrics(CollectorRegistry()),
    )
    assert await handler(original) is Outcome.DEAD_LETTERED
    assert letters.letters == [(original, "smtp-recipient-refused", "550 no such mailbox")]


async def test_success_passes_through_untouched() -> None:
    letters = FakeDeadLetters()
    handler = dead_letter(
        sends, letters=letters, wait=wait_none(), metrics=MailerMetrics(CollectorRegistry())
    )
    assert await handler(message(b"x")) is Outcome.SENT
    assert letters.letters == []


async def test_a_broker_refusing_the_dead_letter_is_retried_not_skipped() -> None:
    letters = FakeDeadLetters(failures=3)
    handler = dead_letter(
        fails_for_good,
        letters=letters,
        wait=wait_none(),
        metrics=MailerMetrics(CollectorRegistry()),
    )
    assert await handler(message(b"x")) is Outcome.DEAD_LETTERED
    assert len(letters.letters) == 1


async def test_transient_errors_are_not_the_dead_letter_wrappers_business() -> None:
    async def flaky(_: Message) -> Outcome:
        raise TransientError("451")

    handler = dead_letter(
        flaky,
        letters=FakeDeadLetters(),
        wait=wait_none(),
        metrics=MailerMetrics(CollectorRegistry()),
    )
    with pytest.raises(TransientError):
        await handler(message(b"x"))


def test_dead_letter_headers_keep_the_originals_and_add_where_and_why() -> None:
    headers = dict(
        dead_letter_headers(message(b"x", offset=9, partition=2), reason="r", detail="d")
    )
    assert headers["event_type"] == b"email.daily_digest.requested"
    assert headers["dlq-reason"] == b"r"
    assert headers["dlq-detail"] == b"d"
    assert headers["dlq-original-topic"] == b"events"
    assert headers["dlq-original-partition"] == b"2"
    assert headers["dlq-original-offset"] == b"9"
    assert b"T" in headers["dlq-failed-at"]
