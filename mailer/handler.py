"""The one handler: decode, ignore what is not a digest, send each digest once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from email.message import Message as EmailMessage
from typing import Protocol

import structlog
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type
from tenacity.wait import wait_base

from app.core.envelope import DIGEST_DAY_HEADER, header
from app.core.events import DAILY_DIGEST_REQUESTED, AnyEvent, DailyDigestRequested, decode_event
from mailer.dedupe import DedupeStore
from mailer.message import DatabaseUnavailableError, Message, Outcome, PermanentError
from mailer.transport import MailTransport

log = structlog.get_logger(__name__)


def parse(message: Message) -> AnyEvent | None:
    """The event, None for a type this mailer does not handle, or `PermanentError`."""
    if message.value is None:
        raise PermanentError("undecodable", "the record has no value")
    try:
        return decode_event(message.value)
    except ValidationError as error:
        kind = _peek_type(message.value)
        if kind is None:
            raise PermanentError("undecodable", _short(error)) from error
        if kind == DAILY_DIGEST_REQUESTED:
            raise PermanentError("invalid-event", _short(error)) from error
        return None  # a type from a newer producer, or one not meant for us


def digest_day_of(message: Message) -> date | None:
    """The local day recorded with a digest, None if it has none, or `PermanentError`."""
    raw = header(message.headers, DIGEST_DAY_HEADER)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.decode("ascii"))
    except ValueError as error:  # UnicodeDecodeError is one too
        detail = f"{DIGEST_DAY_HEADER} header is not an ISO date: {raw[:40]!r}"
        raise PermanentError("invalid-event", detail) from error


class Render(Protocol):
    """Builds the email of one digest for the local day it covers."""

    def __call__(self, event: DailyDigestRequested, *, day: date | None) -> EmailMessage: ...


def _peek_type(raw: bytes) -> str | None:
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    kind = document.get("type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


def _short(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())[:500]


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[uuid.UUID, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: uuid.UUID) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class DigestHandler:
    """Claim the event id, send, commit the claim; a duplicate finds the claim and is skipped."""

    def __init__(
        self,
        *,
        store: DedupeStore,
        transport: MailTransport,
        render: Render,
        record_wait: wait_base,
        on_record_retry: Callable[[], None] = lambda: None,
        message_id: Callable[[DailyDigestRequested], str] | None = None,
    ) -> None:
        """`message_id`: the Message-ID `render` gives an event, recorded with its claim."""
        self._store = store
        self._message_id = message_id
        self._transport = transport
        self._render = render
        self._record_wait = record_wait
        self._on_record_retry = on_record_retry
        self._locks = KeyedLocks()

    async def __call__(self, message: Message) -> Outcome:
        event = parse(message)
        if not isinstance(event, DailyDigestRequested):
            return Outcome.IGNORED
        day = digest_day_of(message)
        with structlog.contextvars.bound_contextvars(event_id=str(event.event_id)):
            outcome = await self._send_once(event, day)
            log.info("digest handled", outcome=outcome.value)
            return outcome

    async def _send_once(self, event: DailyDigestRequested, day: date | None) -> Outcome:
        # The in-process lock keeps two copies of one event from both waiting on the database.
        message_id = None if self._message_id is None else self._message_id(event)
        async with (
            self._locks.hold(event.event_id),
            self._store.claim(event.event_id, message_id=message_id) as claim,
        ):
            if claim is None:
                return Outcome.DUPLICATE
            await self._transport.send(self._render(event, day=day), recipient=event.email)
            try:
                await claim.commit()
            except DatabaseUnavailableError as error:
                # Sent but not recorded: record it once the database is back, never resend.
                log.warning("recording a sent digest failed; retrying", error=str(error))
                await self._record_after_send(event.event_id, message_id)
        return Outcome.SENT

    async def _record_after_send(self, event_id: uuid.UUID, message_id: str | None) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(DatabaseUnavailableError),
            wait=self._record_wait,
            before_sleep=lambda _: self._on_record_retry(),
        )
        await retrying(self._store.record, event_id, message_id=message_id)
