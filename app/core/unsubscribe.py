"""The one-click unsubscribe link: a signed token that names a user and its one purpose.

The mailer builds the link into every digest, the API verifies it; both import this module and
share `UNSUBSCRIBE_SECRET`. The token is `<user id>.<MAC>` in base64url: HMAC-SHA256 over a
purpose label and the user id, so it can only ever switch off that user's digest, needs no login
and no database row, and stays valid as long as the secret does (an old email's link works).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Annotated, Self

from pydantic import Field, model_validator

from app.core.settings import MIN_SECRET_LENGTH, AppEnv, CommonSettings

#: What a token authorises; a MAC for any other purpose of the same secret never verifies here.
PURPOSE = b"eventful-todo:unsubscribe:daily-digest:v1"
DEV_UNSUBSCRIBE_SECRET = "development-only-unsubscribe-secret-change-me"  # noqa: S105 - refused in production
#: The path under APP_PUBLIC_URL (nginx proxies /api/ to the API, which serves /unsubscribe/...).
UNSUBSCRIBE_PATH = "/api/unsubscribe/"
# base64url of 16 id bytes and of a 32-byte MAC, unpadded: 22 + 1 + 43 characters.
TOKEN_LENGTH = 66


class UnsubscribeSettings(CommonSettings):
    """What the API and the mailer share to make and check unsubscribe links."""

    unsubscribe_secret: Annotated[
        str,
        Field(
            description="HMAC key of the unsubscribe links, at least 32 characters; the API and "
            "the mailer need the same value. Changing it invalidates every link already sent"
        ),
    ] = DEV_UNSUBSCRIBE_SECRET
    app_public_url: Annotated[
        str,
        Field(description="Where users reach the web client; the unsubscribe links point here"),
    ] = "http://localhost:8080"

    @model_validator(mode="after")
    def _refuse_weak_unsubscribe_secret(self) -> Self:
        if self.app_env is AppEnv.DEVELOPMENT:
            return self
        secret = self.unsubscribe_secret
        if secret == DEV_UNSUBSCRIBE_SECRET or len(secret) < MIN_SECRET_LENGTH:
            msg = (
                f"UNSUBSCRIBE_SECRET must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters when APP_ENV is not 'development'"
            )
            raise ValueError(msg)
        return self

    def unsubscribe_url(self, user_id: uuid.UUID) -> str:
        """The absolute one-click link of one user."""
        token = make_token(user_id, secret=self.unsubscribe_secret)
        return f"{self.app_public_url.rstrip('/')}{UNSUBSCRIBE_PATH}{token}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(user_id: uuid.UUID, secret: str) -> bytes:
    return hmac.new(secret.encode(), PURPOSE + b":" + user_id.bytes, hashlib.sha256).digest()


def make_token(user_id: uuid.UUID, *, secret: str) -> str:
    """The token of one user's unsubscribe link."""
    return f"{_b64(user_id.bytes)}.{_b64(_mac(user_id, secret))}"


def read_token(token: str, *, secret: str) -> uuid.UUID | None:
    """The user a genuine token names; None for anything tampered, truncated or malformed."""
    if len(token) != TOKEN_LENGTH or not token.isascii():
        return None
    user_part, _, _ = token.partition(".")
    try:
        user_id = uuid.UUID(bytes=base64.urlsafe_b64decode(user_part + "=="))
    except (binascii.Error, ValueError):
        return None
    # Compared as the canonical text, so an unused low bit of the last base64 character cannot
    # make a second spelling of a valid token; constant time, so no MAC is found byte by byte.
    if not hmac.compare_digest(token.encode(), make_token(user_id, secret=secret).encode()):
        return None
    return user_id
