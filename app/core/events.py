"""The event contracts: one immutable Pydantic model per event type, shared by every service.

Producers build these models and the outbox stores their JSON; consumers decode Kafka values with
`decode_event`. `docs/events.schema.json` and `docs/asyncapi.yaml` are generated from this module
(`python -m app.core.schema_export`), and a test keeps them in step.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.core.clock import utcnow

#: Namespace for ids derived from content (UUIDv5), e.g. one digest per (user, day).
EVENT_NAMESPACE = uuid.UUID("6f1c3e2a-9b7d-5c4e-8a21-0d3f5b6c7e81")
# The event type names, the `type` field on the wire and the `event_type` header; each model
# below declares its own as a literal too (a test keeps the two equal).
USER_REGISTERED: Final = "user.registered"
USER_PREFERENCES_CHANGED: Final = "user.preferences_changed"
TASK_CREATED: Final = "task.created"
TASK_UPDATED: Final = "task.updated"
TASK_COMPLETED: Final = "task.completed"
TASK_REOPENED: Final = "task.reopened"
TASK_DELETED: Final = "task.deleted"
DAILY_DIGEST_REQUESTED: Final = "email.daily_digest.requested"
#: Validation context of decoding: what arrives must be complete, nothing is defaulted.
WIRE = "wire"


class Event(BaseModel):
    """Envelope every event shares. Immutable; unknown fields are refused on both ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Annotated[uuid.UUID, Field(description="Unique id; consumers dedupe on it")] = Field(
        default_factory=uuid.uuid4
    )
    type: str
    occurred_at: Annotated[AwareDatetime, Field(description="When it happened, UTC, ISO 8601")] = (
        Field(default_factory=utcnow)
    )
    user_id: Annotated[uuid.UUID, Field(description="The user; also the Kafka message key")]

    @model_validator(mode="before")
    @classmethod
    def _envelope_complete_on_the_wire(cls, data: Any, info: ValidationInfo) -> Any:
        # Defaults are for producers. A decoded event without its id would be deduped on a
        # random one, so on the wire both envelope fields are required.
        if info.context == WIRE and isinstance(data, dict):
            missing = [f for f in ("event_id", "occurred_at") if f not in data]
            if missing:
                msg = f"missing envelope field(s): {', '.join(missing)}"
                raise ValueError(msg)
        return data

    @field_validator("occurred_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @property
    def key(self) -> str:
        """Kafka message key: all of a user's events go to one partition, in order."""
        return str(self.user_id)


class UserRegistered(Event):
    """A new account was created."""

    type: Literal["user.registered"] = USER_REGISTERED
    email: str


class UserPreferencesChanged(Event):
    """A user's digest preferences changed (settings, the unsubscribe link, or a bounce)."""

    type: Literal["user.preferences_changed"] = USER_PREFERENCES_CHANGED
    timezone: Annotated[str, Field(description="IANA zone whose midnight ends the user's day")]
    digest_enabled: Annotated[
        StrictBool, Field(description="Whether the user gets the daily digest")
    ]
    cause: Annotated[
        Literal["settings", "unsubscribe", "bounce", "blocked", "spam"],
        Field(
            description="What changed them: the user's settings, the email's unsubscribe link, "
            "or the mail provider reporting a hard bounce, a blocked address or a spam complaint"
        ),
    ]


class TaskCreated(Event):
    """A task was added."""

    type: Literal["task.created"] = TASK_CREATED
    task_id: uuid.UUID
    title: str


class TaskUpdated(Event):
    """A task's title changed (emitted only when it really changed)."""

    type: Literal["task.updated"] = TASK_UPDATED
    task_id: uuid.UUID
    title: str


class TaskCompleted(Event):
    """A task went from not done to done (never on a no-op update)."""

    type: Literal["task.completed"] = TASK_COMPLETED
    task_id: uuid.UUID


class TaskReopened(Event):
    """A task went from done back to not done."""

    type: Literal["task.reopened"] = TASK_REOPENED
    task_id: uuid.UUID


class TaskDeleted(Event):
    """A task was deleted."""

    type: Literal["task.deleted"] = TASK_DELETED
    task_id: uuid.UUID


class DigestStats(BaseModel):
    """Exact counts of a user's tasks at the time of the digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total: Annotated[int, Field(ge=0)]
    done: Annotated[int, Field(ge=0)]
    undone: Annotated[int, Field(ge=0)]


class DailyDigestRequested(Event):
    """Ask for one daily digest email to one user; the id is derived from (user, day)."""

    type: Literal["email.daily_digest.requested"] = DAILY_DIGEST_REQUESTED
    email: str
    stats: DigestStats
    undone_titles: Annotated[
        list[str],
        Field(description="Undone titles, oldest first, capped; stats.undone is the exact count"),
    ]

    @staticmethod
    def id_for(user_id: uuid.UUID, day: date) -> uuid.UUID:
        """The same (user, day) always yields the same event id: one digest a day, at most."""
        return uuid.uuid5(EVENT_NAMESPACE, f"daily-digest:{user_id}:{day.isoformat()}")


AnyEvent = Annotated[
    UserRegistered
    | UserPreferencesChanged
    | TaskCreated
    | TaskUpdated
    | TaskCompleted
    | TaskReopened
    | TaskDeleted
    | DailyDigestRequested,
    Field(discriminator="type"),
]

EVENT_TYPES: tuple[type[Event], ...] = (
    UserRegistered,
    UserPreferencesChanged,
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskReopened,
    TaskDeleted,
    DailyDigestRequested,
)

_any_event: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def decode_event(raw: bytes | str) -> AnyEvent:
    """Parse and validate one event from its JSON; raises `pydantic.ValidationError`."""
    return _any_event.validate_json(raw, context=WIRE)


def encode_event(event: Event) -> str:
    return event.model_dump_json()
