"""Text a client may send: what PostgreSQL can store, and email addresses in one normal form.

Every string field of every request model carries `STORABLE` (directly, or through `StoredText`,
`Email`, `LoginEmail`), so a NUL or an unpaired surrogate is a 422 that names the field, never a
database error (`text` and `jsonb` cannot hold U+0000, and UTF-8 cannot encode a lone
surrogate). tests/security checks that no request field goes without it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

#: NUL and the surrogate code points: neither survives the trip into PostgreSQL's UTF-8 text.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: RFC 5321's limit on a forward path.
EMAIL_MAX_LENGTH = 320


def _storable(value: str) -> str:
    found = UNSTORABLE.search(value)
    if found is not None:
        raise PydanticCustomError(
            "text_unstorable",
            "must not contain the character {character} "
            "(NUL and unpaired surrogates cannot be stored)",
            {"character": f"U+{ord(found.group()):04X}"},
        )
    return value


@dataclass(frozen=True, slots=True)
class Storable:
    """Refuses what PostgreSQL cannot store, and says so in the JSON Schema (`pattern`).

    Put it after any `StringConstraints`, which must see the plain string.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_storable, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        # So a schema-driven client (schemathesis) knows a NUL is refused, not accepted.
        json_schema.setdefault("pattern", STORABLE_PATTERN)
        return json_schema


STORABLE = Storable()
#: The same rule in ECMA-262 / Python regex syntax, for the OpenAPI document.
STORABLE_PATTERN = "^[^\\u0000]*$"
#: A string that PostgreSQL can store.
StoredText = Annotated[str, STORABLE]


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise PydanticCustomError("string_blank", "must contain more than white space")
    return value


#: Trimmed, with at least one other character (the pattern says so for the document).
NON_BLANK = AfterValidator(_non_blank)
NON_BLANK_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def normalise_email(address: str) -> str:
    """One spelling per mailbox: NFC, case-folded, the domain in its IDNA (ASCII) form.

    Raises `ValueError` when the address is not valid.
    """
    try:
        # `test_environment`: the RFC 2606 testing name `.test` is accepted like example.com,
        # for demos and tests; `.invalid`, `.local`, `.localhost` and the like stay refused.
        parts = validate_email(address.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    local = unicodedata.normalize("NFC", parts.local_part).casefold()
    return f"{local}@{parts.ascii_domain.lower()}"


def _login_email(address: str) -> str:
    # Login never says "invalid": an address that cannot exist simply matches nobody (a 401),
    # in the same normal form registration would have stored it.
    try:
        return normalise_email(address)
    except ValueError:
        return unicodedata.normalize("NFC", address.strip()).casefold()


#: Registration: a valid address, stored normalised.
Email = Annotated[
    str,
    StringConstraints(max_length=EMAIL_MAX_LENGTH),
    STORABLE,
    AfterValidator(normalise_email),
    Field(json_schema_extra={"format": "email"}),
]
#: Login: normalised the same way, never refused for its form (an unknown address is a 401).
LoginEmail = Annotated[
    str,
    StringConstraints(min_length=1, max_length=EMAIL_MAX_LENGTH),
    STORABLE,
    AfterValidator(_login_email),
]
