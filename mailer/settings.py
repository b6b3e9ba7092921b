"""The mailer's configuration, from environment variables only."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from app.core.unsubscribe import UnsubscribeSettings


class SmtpSecurity(StrEnum):
    NONE = "none"  # Mailpit, aiosmtpd in tests
    STARTTLS = "starttls"  # Mailjet on port 587
    TLS = "tls"  # implicit TLS, port 465


class MailerSettings(UnsubscribeSettings):
    """`python -m mailer`: Kafka consumer group -> SMTP, deduplicated in PostgreSQL."""

    kafka_dlq_topic: Annotated[
        str, Field(description="Dead-letter topic: original bytes plus reason headers")
    ] = "events.dlq"
    kafka_dlq_partitions: Annotated[int, Field(ge=1, description="When the mailer creates it")] = 1
    kafka_dlq_replication_factor: Annotated[int, Field(ge=1)] = 1
    mailer_group_id: Annotated[str, Field(description="Kafka consumer group")] = "mailer"
    mailer_concurrency: Annotated[
        int, Field(ge=1, le=1024, description="Messages handled at once across partitions")
    ] = 32
    mailer_commit_interval_seconds: Annotated[
        float, Field(gt=0, le=60, description="How often finished offsets are committed")
    ] = 1.0
    mailer_drain_timeout_seconds: Annotated[
        float,
        Field(gt=0, description="Wait for in-flight sends on SIGTERM and partition revocation"),
    ] = 25.0
    mailer_fetch_min_bytes: Annotated[
        int,
        Field(
            ge=1,
            description="The broker answers a fetch once this much is ready (or after the wait "
            "below): a stream of small task events costs a few fetches a second, not one each",
        ),
    ] = 64 * 1024
    mailer_fetch_max_wait_ms: Annotated[
        int, Field(ge=0, le=10_000, description="Longest a fetch waits for fetch_min_bytes")
    ] = 100
    mailer_health_host: str = "127.0.0.1"
    mailer_health_port: Annotated[
        int, Field(ge=0, le=65535, description="/healthz and /metrics; 0 disables")
    ] = 9103

    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 1025
    smtp_username: Annotated[str | None, Field(description="Mailjet: the API key")] = None
    smtp_password: Annotated[str | None, Field(description="Mailjet: the API secret")] = None
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    smtp_pool_size: Annotated[
        int, Field(ge=1, le=256, description="SMTP connections kept open and reused")
    ] = 16
    mail_from: str = "Eventful TODO <no-reply@eventful-todo.local>"
    mail_message_id_domain: Annotated[
        str, Field(description="Right-hand side of Message-ID <event_id@domain>")
    ] = "eventful-todo"
    digest_timezone: Annotated[
        str, Field(description="Time zone of the date shown in the digest")
    ] = "UTC"

    smtp_retry_attempts: Annotated[
        int, Field(ge=1, le=100, description="Tries for a transient SMTP error before the DLQ")
    ] = 8
    smtp_retry_initial_seconds: Annotated[float, Field(ge=0)] = 0.5
    smtp_retry_max_seconds: Annotated[float, Field(ge=0)] = 30.0
    db_retry_initial_seconds: Annotated[float, Field(ge=0)] = 0.5
    db_retry_max_seconds: Annotated[
        float, Field(ge=0, description="A database outage is retried forever, capped at this")
    ] = 15.0

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # `SMTP_USERNAME=` in an .env means "no AUTH"

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Self:
        if (self.smtp_username is None) != (self.smtp_password is None):
            msg = "SMTP_USERNAME and SMTP_PASSWORD must be set together"
            raise ValueError(msg)
        return self
