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
from app.core.preferences import DEFAULT_TIMEZONE
from app.ratelimit import LoginRateLimiter, RegistrationRateLimiter
from app.security import Passwords

EMAIL_UNIQUE_CONSTRAINT = "uq_users_email"


class InvalidCredentialsError(Exception):
    """Unknown email or wrong password; deliberately not saying which."""


async def register_user(
    *,
    uow: UnitOfWork,
    passwords: Passwords,
    limiter: RegistrationRateLimiter,
    email: str,
    password: str,
    client: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> User:
    """Create the account and announce `user.registered`; the unique index decides races.

    An address that already has an account gets the same answer as a new one, after the same
    work (a stand-in user that is never stored): registration does not tell who has an account
    (docs/decisions/0010). The attempt is counted, and committed, before the hashing it buys.
    """
    now = datetime.now(UTC)
    await limiter.attempt(uow.session, client=client, now=now)
    await uow.commit()
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=await passwords.hash(password),
        created_at=now,
        timezone=timezone,
        digest_enabled=True,
    )
    uow.session.add(user)
    uow.add_event(UserRegistered(user_id=user.id, email=user.email, occurred_at=now))
    try:
        await uow.session.flush()
        await uow.commit()
    except IntegrityError as exc:
        if not _violates(exc, EMAIL_UNIQUE_CONSTRAINT):
            raise
        await uow.session.rollback()
        return User(id=uuid.uuid4(), email=email, password_hash="", created_at=now)
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
    """The user these credentials belong to; attempts are counted first, then checked."""
    now = datetime.now(UTC)
    await limiter.attempt(uow.session, email=email, client=client, now=now)
    # Committed before the password is checked, so concurrent guesses see each other's counts.
    await uow.commit()
    user = await get_user_by_email(session=uow.session, email=email)
    matches = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not matches:
        await limiter.failed(uow.session, now=now)
        await uow.commit()
        raise InvalidCredentialsError
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
    await limiter.succeeded(uow.session, email=email, client=client)
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
