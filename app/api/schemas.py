"""Request and response bodies. Requests refuse unknown fields: ids and owners stay server-set."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from app.api.text import NON_BLANK, NON_BLANK_PATTERN, STORABLE, Email, LoginEmail
from app.core.preferences import Timezone

PASSWORD_MIN_LENGTH = 8
# Bounded above so a megabyte "password" cannot buy a megabyte of hashing.
PASSWORD_MAX_LENGTH = 128
TITLE_MAX_LENGTH = 500
MAX_OFFSET = 2**63 - 1
MAX_PAGE_SIZE = 500


Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    STORABLE,
]
LoginPassword = Annotated[
    str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH), STORABLE
]
#: At most 500 characters as sent, then trimmed, and not blank: what the document says too.
Title = Annotated[
    str,
    StringConstraints(max_length=TITLE_MAX_LENGTH),
    STORABLE,
    NON_BLANK,
    Field(json_schema_extra={"pattern": NON_BLANK_PATTERN}),
]
#: The OAuth2 form's other fields: unused, but bounded and storable like every other text.
FormText = Annotated[str, StringConstraints(max_length=PASSWORD_MAX_LENGTH), STORABLE]


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: Whatever the database session's time zone, the API speaks UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_as_utc)]


def NOT_NULL(schema: dict[str, Any]) -> None:  # noqa: N802 - used as a constant
    # `X | None = None` documents `anyOf: [X, null]` and `default: null`; only X is accepted.
    options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    schema.pop("default", None)


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Registration(RequestModel):
    email: Email
    password: Password
    timezone: Annotated[
        Timezone | None, Field(description="IANA zone of the digest; default: the server's")
    ] = None


class LoginJson(RequestModel):
    email: LoginEmail
    password: LoginPassword


class LoginForm(RequestModel):
    """The OAuth2 password grant, as the /docs "Authorize" button sends it."""

    grant_type: Literal["password"] | None = None
    username: LoginEmail
    password: LoginPassword
    scope: FormText = ""
    client_id: FormText | None = None
    client_secret: FormText | None = None


class TaskCreate(RequestModel):
    title: Title


class PatchModel(RequestModel):
    """A partial update: omitted fields stay as they are; `null` is refused rather than guessed at.

    The document says what the API accepts (a value, never `null`: declare each field with
    `NOT_NULL`), so a schema-driven client never sends the `null` the validator refuses.
    """

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            msg = f"may be omitted but not null: {', '.join(sorted(nulls))}"
            raise ValueError(msg)
        return self


class TaskPatch(PatchModel):
    title: Annotated[Title | None, Field(json_schema_extra=NOT_NULL)] = None
    done: Annotated[StrictBool | None, Field(json_schema_extra=NOT_NULL)] = None


class TaskQuery(BaseModel):
    """Filter and page `GET /tasks`."""

    done: bool | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 100
    # Bounded like PostgreSQL's bigint OFFSET, so an absurd value is a 422, not a 500.
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserOut(ResponseModel):
    id: uuid.UUID
    email: str
    created_at: UtcDatetime


class TaskOut(ResponseModel):
    id: uuid.UUID
    title: str
    done: bool
    created_at: UtcDatetime
    done_at: UtcDatetime | None


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: Annotated[int, Field(description="Seconds until the token expires")]


class Status(BaseModel):
    status: Literal["ok"] = "ok"
