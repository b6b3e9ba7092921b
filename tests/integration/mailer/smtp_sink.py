"""A real SMTP server in-process (aiosmtpd) that records what it accepts and fails on demand."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


class SmtpSink:
    """The server on 127.0.0.1:`port`; can be stopped and started again on the same port."""

    def __init__(self, handler: RecordingHandler, port: int | None = None) -> None:
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
