"""SMTP errors sorted into "try again" and "give up", and the settings that pick the server."""

from __future__ import annotations

import aiosmtplib
import pytest
from pydantic import ValidationError

from mailer.message import PermanentError, TransientError
from mailer.settings import MailerSettings, SmtpSecurity
from mailer.transport import classify

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        aiosmtplib.SMTPConnectTimeoutError("connect timed out"),
        aiosmtplib.SMTPReadTimeoutError("read timed out"),
        aiosmtplib.SMTPServerDisconnected("gone"),
        aiosmtplib.SMTPDataError(451, "try later"),
        aiosmtplib.SMTPResponseException(421, "closing"),
        aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "busy", "a@b")]),
        aiosmtplib.SMTPAuthenticationError(535, "bad credentials"),
    ],
)
def test_network_trouble_and_4xx_replies_are_transient(error: Exception) -> None:
    assert isinstance(classify(error), TransientError)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a@b")]),
            "smtp-recipient-refused",
        ),
        (aiosmtplib.SMTPDataError(554, "spam"), "smtp-554"),
        (aiosmtplib.SMTPSenderRefused(553, "bad sender", "x@y"), "smtp-553"),
    ],
)
def test_5xx_replies_are_permanent(error: Exception, reason: str) -> None:
    failure = classify(error)
    assert isinstance(failure, PermanentError)
    assert failure.reason == reason


def test_the_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_DLQ_TOPIC", "MAILER_GROUP_ID", "MAILER_CONCURRENCY", "SMTP_SECURITY"):
        monkeypatch.delenv(name, raising=False)
    settings = MailerSettings()
    assert settings.kafka_dlq_topic == "events.dlq"
    assert settings.mailer_group_id == "mailer"
    assert settings.mailer_concurrency == 32
    assert settings.smtp_security is SmtpSecurity.NONE


def test_mailjet_is_configured_by_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_HOST", "in-v3.mailjet.com")
    monkeypatch.setenv("SMTP_PORT", "587")
    monkeypatch.setenv("SMTP_SECURITY", "starttls")
    monkeypatch.setenv("SMTP_USERNAME", "api-key")
    monkeypatch.setenv("SMTP_PASSWORD", "api-secret")
    settings = MailerSettings()
    assert (settings.smtp_host, settings.smtp_port) == ("in-v3.mailjet.com", 587)
    assert settings.smtp_security is SmtpSecurity.STARTTLS
    assert (settings.smtp_username, settings.smtp_password) == ("api-key", "api-secret")


def test_a_username_without_a_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be set together"):
        MailerSettings(smtp_username="key")


def test_blank_credentials_mean_no_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USERNAME", "")
    monkeypatch.setenv("SMTP_PASSWORD", "")
    settings = MailerSettings()
    assert (settings.smtp_username, settings.smtp_password) == (None, None)
