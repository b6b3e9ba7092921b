"""Real SMTP servers in-process (aiosmtpd) that record what they accept and fail on demand.

`SmtpSink` + `RecordingHandler`: per-message control (4xx for the next N, 5xx for chosen
recipients, a hold gate, a delay), for the mailer's integration tests and its benchmark.
`SmtpServer`: time-based failure (`fail_for`) and `Received` records with the event id, for the
whole system under the end-to-end and fault tests.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Generic

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from typing_extensions import TypeVar

from tests.support.ports import free_port

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


class RecordingHandler:
    """aiosmtpd handler: 4xx for the next N messages, 5xx for chosen recipients, a hold gate."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.temporary_failures = 0
        self.temporary_failures_answered = 0
        self.rejected: set[str] = set()
        self.held: set[str] = set()
        self.release = threading.Event()
        self.holding = 0
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.rejected:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                self.temporary_failures_answered += 1
                return "451 4.3.0 Try again later"
        if self.held.intersection(envelope.rcpt_tos):
            self.holding += 1
            await asyncio.to_thread(self.release.wait)
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self._messages.append(parsed)
        return "250 2.0.0 Accepted"


H = TypeVar("H", bound=RecordingHandler, default=RecordingHandler)


class SmtpSink(Generic[H]):
    """The server on 127.0.0.1:`port`; can be stopped and started again on the same port."""

    def __init__(self, handler: H, port: int | None = None) -> None:
        self.handler = handler
        self.port = port or free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    at: float

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")

    @property
    def event_id(self) -> uuid.UUID | None:
        """The event id the Message-ID was derived from, if it carries one."""
        match = UUID_RE.search(self.message_id)
        return uuid.UUID(match.group(0)) if match else None

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return "" if part is None else str(part.get_content())


class _RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Received] = []
        self.failing_until = 0.0
        self.rejected = 0
        self.refused: set[str] = set()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if address in self.refused:
                self.rejected += 1
                return "550 5.1.1 Mailbox unavailable (test)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            if time.monotonic() < self.failing_until:
                self.rejected += 1
                return "451 4.3.0 Temporarily unable to accept mail (test)"
            raw = envelope.original_content or envelope.content or b""
            if isinstance(raw, str):
                raw = raw.encode()
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    message=message,
                    at=time.monotonic(),
                )
            )
        return "250 2.0.0 OK"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that records messages and can fail on demand."""

    def __init__(self) -> None:
        self.port = free_port()
        self._handler = _RecordingHandler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.messages)

    @property
    def rejected(self) -> int:
        return self._handler.rejected

    def fail_for(self, seconds: float) -> None:
        """Answer every message with 451 (a transient failure) for the next `seconds`."""
        with self._handler.lock:
            self._handler.failing_until = time.monotonic() + seconds

    def refuse(self, address: str) -> None:
        """Answer RCPT TO `address` with 550 (a permanent failure) until `accept`."""
        with self._handler.lock:
            self._handler.refused.add(address)

    def accept(self, address: str) -> None:
        with self._handler.lock:
            self._handler.refused.discard(address)

    def recover(self) -> None:
        with self._handler.lock:
            self._handler.failing_until = 0.0

    def emails_per_event(self) -> Counter[uuid.UUID]:
        return Counter(m.event_id for m in self.messages if m.event_id is not None)
