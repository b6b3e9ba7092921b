"""Password hashing (argon2id, off the event loop) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import ApiSettings

JWT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp")


class InvalidTokenError(Exception):
    """The bearer token is malformed, forged, expired or lacks a required claim."""


class Passwords:
    """argon2id with the configured cost; every call runs in a worker thread."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verifying against this when the email is unknown makes both failures cost the same.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Passwords:
        return cls(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if it matches; with no hash (unknown user) burns the same time and says False."""
        if password_hash is None:
            await asyncio.to_thread(self._verify, self._dummy_hash, password)
            return False
        return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def issue_token(
    *, user_id: uuid.UUID, secret: str, ttl_seconds: int, now: datetime | None = None
) -> str:
    """A token whose payload is exactly `sub`, `iat` and `exp`."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = {
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def user_id_from_token(token: str, *, secret: str) -> uuid.UUID:
    """The user id a valid token names; raises `InvalidTokenError` for anything else."""
    try:
        # Pinning the algorithm list refuses `none` and every other algorithm in the header.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": list(REQUIRED_CLAIMS)},
        )
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidTokenError(str(exc)) from exc
