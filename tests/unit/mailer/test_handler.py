"""The core handler: decode, ignore, and send each digest once whatever the redelivery."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from tenacity import wait_none

from app.core.events import TaskCreated
from mailer.handler import DigestHandler, KeyedLocks
from mailer.message import Outcome, PermanentError, TransientError
from mailer.render import message_id_for, render_digest
from tests.unit.mailer.factories import digest, digest_message, message
from tests.unit.mailer.fakes import FakeDedupeStore, FakeTransport

pytestmark = pytest.mark.unit


def fake_link(user_id: object) -> str:
    return f"https://todo.example/api/unsubscribe/{user_id}"


def make_handler(store: FakeDedupeStore, transport: FakeTransport) -> DigestHandler:
    render = partial(
        render_digest,
        mail_from="a@b.c",
        timezone=ZoneInfo("UTC"),
        message_id_domain="t",
        unsubscribe_url=fake_link,
    )
    return DigestHandler(store=store, transport=transport, render=render, record_wait=wait_none())


async def test_a_new_digest_is_sent_and_recorded() -> None:
    store, transport = FakeDedupeStore(), FakeTransport()
    event = digest()
    assert await make_handler(store, transport)(digest_message(event)) is Outcome.SENT
    assert [m["To"] for m in transport.sent] == ["ada@example.com"]
    assert store.processed == {event.event_id}


async def test_a_recorded_digest_is_skipped_without_sending() -> None:
    event = digest()
    store, transport = FakeDedupeStore(processed={event.event_id}), FakeTransport()
    assert await make_handler(store, transport)(digest_message(event)) is Outcome.DUPLICATE
    assert transport.sent == []


async def test_two_copies_in_flight_at_once_send_one_email() -> None:
    event = digest()
    store, transport = FakeDedupeStore(), FakeTransport(delay=0.01)
    handler = make_handler(store, transport)
    outcomes = await asyncio.gather(
        handler(digest_message(event, offset=1)), handler(digest_message(event, offset=2))
    )
    assert sorted(outcomes) == [Outcome.DUPLICATE, Outcome.SENT]
    assert len(transport.sent) == 1
    assert transport.most_active == 1


async def test_different_digests_are_sent_in_parallel() -> None:
    store, transport = FakeDedupeStore(), FakeTransport(delay=0.01)
    handler = make_handler(store, transport)
    await asyncio.gather(*(handler(digest_message(digest())) for _ in range(5)))
    assert transport.most_active == 5


async def test_a_failed_send_leaves_the_event_unrecorded_for_a_retry() -> None:
    store, transport = FakeDedupeStore(), FakeTransport(TransientError("451"))
    event = digest()
    with pytest.raises(TransientError):
        await make_handler(store, transport)(digest_message(event))
    assert store.processed == set()


async def test_a_claim_lost_after_the_send_is_recorded_later_without_sending_again() -> None:
    store = FakeDedupeStore(commit_failures=1, record_outages=3)
    transport = FakeTransport()
    event = digest()
    assert await make_handler(store, transport)(digest_message(event)) is Outcome.SENT
    assert store.processed == {event.event_id}
    assert len(transport.sent) == 1


async def test_other_event_types_are_ignored() -> None:
    created = TaskCreated(user_id=uuid.uuid4(), task_id=uuid.uuid4(), title="x")
    store, transport = FakeDedupeStore(), FakeTransport()
    outcome = await make_handler(store, transport)(message(created.model_dump_json().encode()))
    assert outcome is Outcome.IGNORED
    assert store.claims == 0


async def test_an_unknown_type_from_a_newer_producer_is_ignored() -> None:
    handler = make_handler(FakeDedupeStore(), FakeTransport())
    assert await handler(message(b'{"type": "task.archived", "v": 2}')) is Outcome.IGNORED


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe", "undecodable"),
        (b"[1, 2]", "undecodable"),
        (None, "undecodable"),
        (b'{"type": "email.daily_digest.requested", "email": 3}', "invalid-event"),
    ],
)
async def test_a_message_that_cannot_be_a_digest_fails_permanently(
    value: bytes | None, reason: str
) -> None:
    handler = make_handler(FakeDedupeStore(), FakeTransport())
    with pytest.raises(PermanentError) as failure:
        await handler(message(value))
    assert failure.value.reason == reason


async def test_the_email_names_the_day_the_scheduler_recorded_in_the_digest_day_header() -> None:
    store, transport = FakeDedupeStore(), FakeTransport()
    message = digest_message(digest(), day=b"2026-11-27")
    assert await make_handler(store, transport)(message) is Outcome.SENT
    assert str(transport.sent[0]["Subject"]).startswith("Your TODO digest for Fri 27 Nov 2026:")


@pytest.mark.parametrize("day", [b"27/11/2026", b"2026-02-30", b"\xff"])
async def test_a_digest_day_header_that_is_not_an_iso_date_fails_permanently_unsent(
    day: bytes,
) -> None:
    store, transport = FakeDedupeStore(), FakeTransport()
    with pytest.raises(PermanentError) as failure:
        await make_handler(store, transport)(digest_message(digest(), day=day))
    assert failure.value.reason == "invalid-event"
    assert "digest_day" in failure.value.detail
    assert (transport.sent, store.claims) == ([], 0)


async def test_keyed_locks_forget_keys_nobody_holds() -> None:
    locks = KeyedLocks()
    key = uuid.uuid4()
    async with locks.hold(key):
        assert len(locks) == 1
    assert len(locks) == 0


async def test_the_message_id_the_email_gets_is_recorded_with_the_event() -> None:
    store, transport = FakeDedupeStore(commit_failures=1), FakeTransport()
    first, second = digest(), digest()
    handler = DigestHandler(
        store=store,
        transport=transport,
        render=partial(
            render_digest,
            mail_from="a@b.c",
            timezone=ZoneInfo("UTC"),
            message_id_domain="t",
            unsubscribe_url=fake_link,
        ),
        record_wait=wait_none(),
        message_id=partial(message_id_for, domain="t"),
    )
    await handler(digest_message(first))  # its claim's commit fails: recorded after the send
    await handler(digest_message(second))
    sent = {m["X-Event-Id"]: m["Message-ID"] for m in transport.sent}
    assert store.message_ids == {
        first.event_id: sent[str(first.event_id)],
        second.event_id: sent[str(second.event_id)],
    }
