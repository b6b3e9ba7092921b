"""A user's digest preferences: read, change, and switch off (unsubscribe link, bounces). No HTTP.

Every real change is announced as `user.preferences_changed` in the transaction that makes it; a
change to the values already stored writes nothing and announces nothing, so repeated
unsubscribes and repeated bounce callbacks stay idempotent.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import bindparam, select

from app.core.clock import utcnow
from app.core.db import PreparedStatements, UnitOfWork
from app.core.events import UserPreferencesChanged
from app.core.models import User

Cause = Literal["settings", "unsubscribe", "bounce", "blocked", "spam"]


_USERS = User.__table__.c
#: What `GET /me` shows, by primary key; built once, executions reuse the compiled SQL.
READ_USER = select(
    _USERS.id, _USERS.email, _USERS.created_at, _USERS.timezone, _USERS.digest_enabled
).where(_USERS.id == bindparam("user_id", type_=_USERS.id.type))


async def read_user(conn: PreparedStatements, *, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The user's account and preferences as one row by column, or None when the user is gone.

    One prepared statement (`READ_USER`), a single round trip on an autocommit connection.
    """
    rows = await conn.mappings(READ_USER, {"user_id": user_id})
    return rows[0] if rows else None


async def change_preferences(
    *,
    uow: UnitOfWork,
    user: User,
    cause: Cause,
    timezone: str | None = None,
    digest_enabled: bool | None = None,
) -> bool:
    """Apply the given values to a loaded user and commit; True when anything changed."""
    changed = False
    if timezone is not None and timezone != user.timezone:
        user.timezone = timezone
        changed = True
    if digest_enabled is not None and digest_enabled != user.digest_enabled:
        user.digest_enabled = digest_enabled
        changed = True
    if changed:
        uow.add_event(
            UserPreferencesChanged(
                user_id=user.id,
                occurred_at=utcnow(),
                timezone=user.timezone,
                digest_enabled=user.digest_enabled,
                cause=cause,
            )
        )
    await uow.commit()
    return changed


async def update_preferences(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    cause: Cause,
    timezone: str | None = None,
    digest_enabled: bool | None = None,
) -> User | None:
    """Change one user's preferences (row locked against a concurrent change); None: no user."""
    user = await uow.session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        return None
    await change_preferences(
        uow=uow, user=user, cause=cause, timezone=timezone, digest_enabled=digest_enabled
    )
    return user


async def disable_digest_for_emails(*, uow: UnitOfWork, emails: Sequence[tuple[str, Cause]]) -> int:
    """Turn the digest off for each known address (bounces, complaints); returns how many changed.

    One transaction for the whole batch: the rows, their events and nothing else. Addresses that
    belong to nobody are skipped: a webhook may report addresses of mail we never sent.
    """
    causes: dict[str, Cause] = {}
    for email, cause in emails:
        causes.setdefault(email.strip().lower(), cause)
    if not causes:
        return 0
    users = await uow.session.scalars(
        select(User).where(User.email.in_(causes)).order_by(User.id).with_for_update()
    )
    changed = 0
    now = utcnow()
    for user in users:
        if user.digest_enabled:
            user.digest_enabled = False
            changed += 1
            uow.add_event(
                UserPreferencesChanged(
                    user_id=user.id,
                    occurred_at=now,
                    timezone=user.timezone,
                    digest_enabled=False,
                    cause=causes[user.email],
                )
            )
    await uow.commit()
    return changed
