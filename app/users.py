"""Accounts: registration and authentication. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from psycopg.errors import UniqueViolation
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import UnitOfWork
from app.core.events import UserRegistered
from app.core.models import User
from app.ratelimit import LoginRateLimiter
from app.security import Passwords

EMAIL_UNIQUE_CONSTRAINT = "uq_users_email"


class EmailAlreadyRegisteredError(Exception):
    """Another account already uses this email."""


class InvalidCredentialsError(Exception):
    """Unknown email or wrong password; deliberately not saying which."""


async def register_user(
    *, uow: UnitOfWork, passwords: Passwords, email: str, password: str
) -> User:
    """Create the account and announce `user.registered`; the unique index decides races."""
    now = datetime.now(UTC)
    user = User(
        id=uuid.uuid4(), email=email, password_hash=await passwords.hash(password), created_at=now
    )
    uow.session.add(user)
    uow.add_event(UserRegistered(user_id=user.id, email=user.email, occurred_at=now))
    try:
        await uow.session.flush()
        await uow.commit()
    except IntegrityError as exc:
        if _violates(exc, EMAIL_UNIQUE_CONSTRAINT):
            raise EmailAlreadyRegisteredError(email) from exc
        raise
    return user


async def authenticate(
    *,
    uow: UnitOfWork,
    passwords: Passwords,
    limiter: LoginRateLimiter,
    email: str,
    password: str,
    client: str,
) -> User:
    """The user these credentials belong to; failures are counted and rate-limited."""
    now = datetime.now(UTC)
    await limiter.check(uow.session, email=email, client=client, now=now)
    user = await get_user_by_email(session=uow.session, email=email)
    matches = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not matches:
        await limiter.record_failure(uow.session, email=email, client=client, now=now)
        await uow.commit()
        raise InvalidCredentialsError
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    await limiter.clear_email(uow.session, email=email)
    await uow.commit()
    return user


async def user_exists(*, session: AsyncSession, user_id: uuid.UUID) -> bool:
    """One index probe, no entity loaded: all a bearer token needs checked on every request."""
    return bool(await session.scalar(select(exists().where(User.id == user_id))))


async def get_user_by_email(*, session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


def _violates(exc: IntegrityError, constraint: str) -> bool:
    orig = exc.orig
    return isinstance(orig, UniqueViolation) and orig.diag.constraint_name == constraint
