"""ORM models. The schema itself is created only by the Alembic migrations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Text,
    Uuid,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # The scheduler's pages: users of the zones whose midnight just passed, in id order.
        Index("ix_users_timezone_id", "timezone", "id", postgresql_where=text("digest_enabled")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    #: IANA zone whose midnight ends the user's digest day.
    timezone: Mapped[str] = mapped_column(Text, default="UTC", server_default=text("'UTC'"))
    digest_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_user_id", "user_id"),
        Index("ix_tasks_user_id_done", "user_id", "done"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    done_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class OutboxEvent(Base):
    """One domain event waiting for (or done with) publication; `id` is publication order."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Leads with `published_at` (NULL on every row in it), so that `ORDER BY published_at,
        # id` (the claim's) is served by this index and by no other (migration 0009).
        Index(
            "ix_outbox_unpublished",
            "published_at",
            "id",
            "slot",
            postgresql_where=text("published_at IS NULL AND parked_at IS NULL"),
        ),
        # Partial, so it can never answer the claim's `published_at IS NULL` (migration 0007).
        Index(
            "ix_outbox_published_at",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    topic: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # None is SQL NULL (not JSON null): a row without extra headers stores nothing.
    headers: Mapped[dict[str, str] | None] = mapped_column(JSONB(none_as_null=True), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    parked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    #: 0-255 from the key, computed by PostgreSQL; a relay partition is `slot % RELAY_PARTITIONS`.
    slot: Mapped[int] = mapped_column(SmallInteger, Computed("hashtext(key) & 255", persisted=True))
    #: Where Kafka stored the record, from the acknowledgement that marked the row published.
    kafka_partition: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kafka_offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RelayMember(Base):
    """A running relay process, alive while `expires_at` (database clock) is ahead."""

    __tablename__ = "relay_members"

    member: Mapped[str] = mapped_column(Text, primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class RelayLease(Base):
    """Who may publish one outbox partition; `epoch` grows with every change of owner."""

    __tablename__ = "relay_leases"

    partition: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(Text, nullable=True)
    epoch: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    changed_at: Mapped[datetime | None] = mapped_column(Timestamp, server_default=func.now())


class LoginAttempts(Base):
    """Failed logins in the current window, per key (`email:...` or `ip:...`), shared by workers."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(Timestamp)


class ProcessedEvent(Base):
    """The mailer's dedupe table: an event id here has had its side effect."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    #: The Message-ID header of the email sent for this event.
    message_id: Mapped[str | None] = mapped_column(Text, nullable=True)


class OperatorAction(Base):
    """Append-only: an operator's replay or discard of a parked row or a dead letter."""

    __tablename__ = "operator_actions"
    __table_args__ = (Index("ix_operator_actions_target", "target"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    tool: Mapped[str] = mapped_column(Text)  # "relay parked" or "mailer dlq"
    action: Mapped[str] = mapped_column(Text)  # "replay" or "discard"
    #: What was acted on: "outbox:<id>" or "<dlq topic>:<partition>:<offset>".
    target: Mapped[str] = mapped_column(Text)
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
