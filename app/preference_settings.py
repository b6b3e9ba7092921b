"""The API's settings for digest preferences: default zone, unsubscribe links, Mailjet callbacks."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from app.core.preferences import DEFAULT_TIMEZONE, check_timezone
from app.core.unsubscribe import UnsubscribeSettings


class PreferenceSettings(UnsubscribeSettings):
    """Mixed into `ApiSettings`; each field is read from the variable of its upper-cased name."""

    digest_timezone: Annotated[
        str,
        Field(description="Zone given to a user who registers without one (IANA name)"),
    ] = DEFAULT_TIMEZONE
    mailjet_webhook_username: Annotated[
        str | None,
        Field(
            description="HTTP Basic user Mailjet's event callback URL carries; unset: "
            "POST /webhooks/mailjet refuses every call"
        ),
    ] = None
    mailjet_webhook_password: Annotated[
        SecretStr | None, Field(description="HTTP Basic password of Mailjet's event callbacks")
    ] = None

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("mailjet_webhook_username", "mailjet_webhook_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _webhook_credentials_come_in_pairs(self) -> Self:
        if (self.mailjet_webhook_username is None) != (self.mailjet_webhook_password is None):
            msg = "MAILJET_WEBHOOK_USERNAME and MAILJET_WEBHOOK_PASSWORD must be set together"
            raise ValueError(msg)
        return self
