"""The dedupe store: `processed_events` rows claimed in a transaction that spans the send."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from app.core.models import ProcessedEvent
from mailer.message import DatabaseUnavailableError

# What a lost or refused connection looks like; constraint violations are bugs, not outages.
_OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError)


class Claim(Protocol):
    async def commit(self) -> None:
        """Make the event processed for good; raises `DatabaseUnavailableError`."""


class DedupeStore(Protocol):
    def claim(
        self, event_id: uuid.UUID, *, message_id: str | None = None
    ) -> AbstractAsyncContextManager[Claim | None]:
        """Yield a claim to send this event (as `message_id`), or None when processed already."""

    async def record(self, event_id: uuid.UUID, *, message_id: str | None = None) -> None:
        """Mark processed without a claim (after a send whose claim commit failed)."""


class _PgClaim:
    def __init__(self, transaction: AsyncTransaction) -> None:
        self._transaction = transaction

    async def commit(self) -> None:
        try:
            await self._transaction.commit()
        except _OUTAGES as error:
            raise DatabaseUnavailableError(str(error)) from error


class PostgresDedupeStore:
    """INSERT ... ON CONFLICT DO NOTHING in an open transaction is the claim.

    The inserted row stays uncommitted while the email is sent, so a second mailer handling the
    same event blocks on the primary key until the first commits (then skips) or rolls back
    (then sends). A crash before the commit rolls the claim back: the event is sent again.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def claim(
        self, event_id: uuid.UUID, *, message_id: str | None = None
    ) -> AsyncIterator[Claim | None]:
        connection: AsyncConnection | None = None
        try:
            connection = await self._engine.connect()
            transaction = await connection.begin()
            inserted = await connection.scalar(
                pg_insert(ProcessedEvent)
                .values(event_id=event_id, message_id=message_id)
                .on_conflict_do_nothing()
                .returning(ProcessedEvent.event_id)
            )
        except _OUTAGES as error:
            if connection is not None:
                await _close_quietly(connection)
            raise DatabaseUnavailableError(str(error)) from error
        try:
            yield None if inserted is None else _PgClaim(transaction)
        finally:
            await _close_quietly(connection)  # rolls back unless the claim was committed

    async def record(self, event_id: uuid.UUID, *, message_id: str | None = None) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    pg_insert(ProcessedEvent)
                    .values(event_id=event_id, message_id=message_id)
                    .on_conflict_do_nothing()
                )
        except _OUTAGES as error:
            raise DatabaseUnavailableError(str(error)) from error


async def _close_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except _OUTAGES:
        with contextlib.suppress(*_OUTAGES):
            await connection.invalidate()
