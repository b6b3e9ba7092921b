"""Password hashing (argon2id, off the event loop) and access tokens (JWT, HS256 only)."""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import ApiSettings

JWT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "exp")


class InvalidTokenError(Exception):
    """The bearer token is malformed, forged, expired or lacks a required claim."""


#: A tenth of a normal thread's CPU share when the cores are contended, all of it when idle
#: (19, the lowest, starved logins for seconds in a storm without helping reads more).
HASHING_NICENESS = 10


def _lower_thread_priority() -> None:
    # On Linux the niceness of a thread id is that thread's own, not the whole process's.
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class Passwords:
    """argon2id with the configured cost, in this object's own low-priority worker threads.

    At most `max_concurrent` hashes run at once per process, at a low CPU priority: a login storm
    queues for spare CPU instead of taking the cores from the requests on the event loop.
    """

    def __init__(
        self, *, memory_kib: int, time_cost: int, parallelism: int, max_concurrent: int = 1
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._threads = ThreadPoolExecutor(
            max_concurrent, thread_name_prefix="argon2", initializer=_lower_thread_priority
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
        return await self._off_loop(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if it matches; with no hash (unknown user) burns the same time and says False."""
        if password_hash is None:
            await self._off_loop(self._verify, self._dummy_hash, password)
            return False
        return await self._off_loop(self._verify, password_hash, password)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def _off_loop[**P, R](self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, lambda: fn(*args, **kwargs)
        )

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


def user_id_from_token(token: str, *, secret: str, now: datetime | None = None) -> uuid.UUID:
    """The user id a valid token names; raises `InvalidTokenError` for anything else.

    A client sends the same token with every request, so the verified claims are cached (a
    verified signature stays verified); expiry is checked on every call. Only tokens that
    verified are cached, so garbage cannot evict the working set for long.
    """
    user_id, expires = _verified_claims(token, secret)
    if expires <= (now or datetime.now(UTC)).timestamp():
        raise InvalidTokenError("Signature has expired")
    return user_id


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> tuple[uuid.UUID, float]:
    try:
        # Pinning the algorithm list refuses `none` and every other algorithm in the header.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": list(REQUIRED_CLAIMS)},
        )
        return uuid.UUID(claims["sub"]), float(claims["exp"])
    # OverflowError: an `exp` of 1e400 parses as an int that no float holds; RecursionError: a
    # deeply nested header is parsed before the signature is checked.
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidTokenError(type(exc).__name__) from exc
