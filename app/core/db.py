"""Async engine, session factory and the unit of work that writes domain events to the outbox.

Every change goes through a `UnitOfWork` except one: the API's `POST /tasks` writes its task
and its outbox row in a single statement on an autocommit connection (`app.tasks.CREATE_TASK`,
decision 0008), where a transaction of its own would double the round trips of the hottest path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

import psycopg
from psycopg.rows import AsyncRowFactory, dict_row, tuple_row
from psycopg.types.json import Jsonb
from sqlalchemy import ClauseElement, Executable
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from typing_extensions import TypeVar  # a TypeVar default needs Python 3.13 without it

from app.core.events import Event
from app.core.outbox import DEFAULT_TOPIC, append_to_outbox
from app.core.settings import CommonSettings

RowT = TypeVar("RowT")  # what a psycopg row factory makes of a row


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pre_ping: bool = True,
    autocommit: bool = False,
    pool_timeout: float = 30.0,
) -> AsyncEngine:
    """A pooled engine; with `pre_ping` a restarted PostgreSQL costs one failed checkout.

    Without it a checkout costs no round trip; the first statement on a dead connection fails
    instead, and SQLAlchemy then invalidates the whole pool, so only in-flight work is lost.
    With `autocommit` every connection is opened in autocommit and stays so: each statement is
    its own transaction, and a connection going back to the pool needs no rollback.
    """
    # Nothing to roll back on an autocommit connection's return to the pool.
    per_statement = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        pool_timeout=pool_timeout,
        **(per_statement if autocommit else {}),
    )


def engine_from_settings(
    settings: CommonSettings,
    *,
    pool_size: int | None = None,
    pre_ping: bool = True,
    autocommit: bool = False,
) -> AsyncEngine:
    """The engine of a service: `DATABASE_URL`, `DB_POOL_SIZE` (unless the service's own
    concurrency decides, `pool_size`) and `DB_MAX_OVERFLOW`. Pools open connections on demand."""
    return make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size if pool_size is None else pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=pre_ping,
        autocommit=autocommit,
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class StatementRunner(Protocol):
    """A connection as the one-statement write uses it: run a statement, commit (0008)."""

    async def scalar(self, statement: Executable, parameters: Mapping[str, Any]) -> Any: ...

    async def commit(self) -> None: ...


class PreparedStatements:
    """A `StatementRunner` straight on a pooled connection's psycopg connection (decision 0013).

    For the hot one-statement paths: the statement is compiled once for the process (psycopg's
    `%(name)s` SQL, the same text SQLAlchemy sends) and executed server-side prepared, without
    SQLAlchemy's per-execution work (cache key, execution context, result wrapping) or its
    greenlet hop. Parameters are plain Python values; dicts and lists go as JSONB. Only for
    connections of an autocommit pool (`make_engine(autocommit=True)`): SQLAlchemy keeps no
    transaction state there that this could bypass.
    """

    _sql: dict[ClauseElement, str] = {}  # noqa: RUF012 - one cache for the process, on purpose

    def __init__(self, conn: AsyncConnection, connection: psycopg.AsyncConnection[Any]) -> None:
        self.conn, self.connection = conn, connection

    @classmethod
    async def on(cls, conn: AsyncConnection) -> PreparedStatements:
        """The runner over the psycopg connection under a SQLAlchemy one (same pool, same state)."""
        raw = (await conn.get_raw_connection()).driver_connection
        assert isinstance(raw, psycopg.AsyncConnection)
        return cls(conn, raw)

    def sql(self, statement: ClauseElement) -> str:
        """The statement as psycopg takes it, compiled on first use."""
        if (sql := self._sql.get(statement)) is None:
            sql = self._sql[statement] = str(statement.compile(dialect=self.conn.dialect))
        return sql

    async def scalar(self, statement: Executable, parameters: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = await (await self._execute(statement, parameters, tuple_row)).fetchone()
        return None if row is None else row[0]

    async def mappings(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Every row, each a dict by column name (what a response model validates at once)."""
        return await (await self._execute(statement, parameters, dict_row)).fetchall()

    async def _execute(
        self, statement: Executable, parameters: Mapping[str, Any], rows: AsyncRowFactory[RowT]
    ) -> psycopg.AsyncCursor[RowT]:
        """Run it prepared; the (client-side) cursor then holds the whole result."""
        assert isinstance(statement, ClauseElement)
        sql = self.sql(statement)
        params = {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in parameters.items()}
        cursor = self.connection.cursor(row_factory=rows)
        try:
            await cursor.execute(sql, params, prepare=True)
        except psycopg.Error as exc:
            raise await self._as_sqlalchemy_error(exc, sql, params) from exc
        return cursor

    async def _as_sqlalchemy_error(
        self, exc: psycopg.Error, sql: str, params: dict[str, Any]
    ) -> StatementError:
        """What SQLAlchemy would raise (its classes: a lost server is an `OperationalError`).

        A lost connection also goes the way SQLAlchemy's would: this one is invalidated and so is
        the rest of the pool (connections opened before it are replaced), so a restarted
        PostgreSQL costs one failed request, not one per pooled connection.
        """
        lost = self.connection.broken or self.connection.closed
        if lost:
            await self.conn.invalidate(exc)
            await self.conn.engine.dispose(close=False)
        return DBAPIError.instance(sql, params, exc, psycopg.Error, connection_invalidated=lost)

    async def commit(self) -> None:
        """Commit; in autocommit (the hot paths' pool) there is nothing to commit, so no trip."""
        await self.connection.commit()


class ChangeSet(Protocol):
    """What domain operations do to a session: stage new rows and deletions."""

    def add(self, instance: object) -> None: ...

    async def delete(self, instance: object) -> None: ...


SessionT_co = TypeVar("SessionT_co", covariant=True, default=AsyncSession)


class UnitOfWork(Protocol[SessionT_co]):
    """One transaction with the events that announce its changes (see `SqlAlchemyUnitOfWork`).

    Generic in what it exposes of its session: `UnitOfWork` gives the whole `AsyncSession`;
    code that only stages changes asks for `UnitOfWork[ChangeSet]`, which an in-memory fake
    can fully stand in for.
    """

    @property
    def session(self) -> SessionT_co: ...

    def add_event(self, event: Event) -> None: ...

    async def commit(self) -> None: ...


class SqlAlchemyUnitOfWork:
    """One transaction: rolls back unless `commit()` is called.

    Domain events collected with `add_event` are appended to the outbox inside the same
    transaction at commit, so a state change and its announcement land together or not at all.
    """

    session: AsyncSession

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, topic: str = DEFAULT_TOPIC
    ) -> None:
        self._session_factory = session_factory
        self._topic = topic
        self._events: list[Event] = []

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    def add_event(self, event: Event) -> None:
        self._events.append(event)

    @property
    def pending_events(self) -> Sequence[Event]:
        return tuple(self._events)

    async def commit(self) -> None:
        if self._events:
            await append_to_outbox(self.session, self._events, topic=self._topic)
            self._events = []
        await self.session.commit()
