"""SMTP over a small pool of reused aiosmtplib connections; errors sorted into retry or give up."""

from __future__ import annotations

import asyncio
import ssl
from email.message import Message as EmailMessage
from email.utils import parseaddr
from typing import Protocol

import aiosmtplib

from mailer.message import PermanentError, TransientError
from mailer.settings import MailerSettings, SmtpSecurity


class MailTransport(Protocol):
    async def send(self, message: EmailMessage, *, recipient: str) -> None:
        """Deliver to `recipient` or raise `TransientError` / `PermanentError`."""

    async def close(self) -> None: ...


def classify(error: Exception) -> TransientError | PermanentError:
    """4xx, timeouts and network errors are worth another try; other replies are final."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        if codes and all(400 <= code < 500 for code in codes):
            return TransientError(str(error))
        return PermanentError("smtp-recipient-refused", str(error))
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # Wrong credentials are the operator's to fix, not this message's fault.
        return TransientError(f"authentication failed: {error}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        if 400 <= error.code < 500:
            return TransientError(f"{error.code} {error.message}")
        return PermanentError(f"smtp-{error.code}", error.message)
    return TransientError(f"{type(error).__name__}: {error}")


# After these the server answered and reset the envelope, so the connection stays usable.
_REPLIES = (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)


class SmtpTransport:
    """Each send borrows a connection, connecting (and logging in) only when it is closed."""

    def __init__(self, settings: MailerSettings) -> None:
        self._settings = settings
        self._sender = parseaddr(settings.mail_from)[1] or settings.mail_from
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        for _ in range(settings.smtp_pool_size):
            self._idle.put_nowait(self._client())

    def _client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            timeout=s.smtp_timeout_seconds,
            use_tls=s.smtp_security is SmtpSecurity.TLS,
            start_tls=s.smtp_security is SmtpSecurity.STARTTLS,
            tls_context=None
            if s.smtp_security is SmtpSecurity.NONE
            else ssl.create_default_context(),
        )

    async def send(self, message: EmailMessage, *, recipient: str) -> None:
        # An explicit envelope: cheaper than re-parsing every address header of every message.
        recipients = [recipient]
        client = await self._idle.get()
        try:
            try:
                reused = client.is_connected
                if not reused:
                    await client.connect()
                await client.send_message(message, sender=self._sender, recipients=recipients)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server dropped an idle connection while it sat in the pool: one fresh try.
                client.close()
                await client.connect()
                await client.send_message(message, sender=self._sender, recipients=recipients)
        except (aiosmtplib.SMTPException, OSError) as error:
            if not isinstance(error, _REPLIES):
                client.close()  # the session state is unknown: start afresh next time
            raise classify(error) from error
        except BaseException:
            client.close()  # cancelled mid-conversation
            raise
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                try:
                    await client.quit(timeout=2)
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
