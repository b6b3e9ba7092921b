"""A user's digest preferences: the IANA zone whose midnight ends their day, and on/off.

The zone names come from the tz database that `zoneinfo` loads: the system's
(`/usr/share/zoneinfo`) where there is one, else the pinned `tzdata` package, which every install
of this project carries so that a slim container without system zone files knows the same names.
`tz_database()` says which one a process uses; the API and the scheduler log it at start.
"""

from __future__ import annotations

import importlib.metadata
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

DEFAULT_TIMEZONE = "UTC"
#: The longest name in the tz database is 32 characters; anything far longer is not a zone.
TIMEZONE_MAX_LENGTH = 64


@cache
def known_timezones() -> frozenset[str]:
    """Every zone name `zoneinfo` can load here (about 600), computed once per process."""
    return frozenset(zoneinfo.available_timezones())


def tz_database() -> str:
    """Where the zone data comes from and its release, e.g. `/usr/share/zoneinfo 2025b`."""
    for folder in zoneinfo.TZPATH:
        if (Path(folder) / "UTC").is_file():
            return f"{folder} {_release(Path(folder) / 'tzdata.zi')}"
    return f"tzdata package {importlib.metadata.version('tzdata')}"


def _release(zi: Path) -> str:
    # tzdata.zi, the compact source every build of the database ships, starts "# version 2025b".
    try:
        first = zi.read_text(encoding="utf-8").partition("\n")[0]
    except OSError:
        return "(release unknown)"
    return first.removeprefix("# version ").strip() or "(release unknown)"


def check_timezone(value: str) -> str:
    """`value` if it names a zone of the tz database; ValueError with the reason otherwise."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        msg = "a time zone name has no control characters"
        raise ValueError(msg)
    if value not in known_timezones():
        msg = f"unknown time zone {value!r}: use an IANA name such as Europe/Paris"
        raise ValueError(msg)
    return value


def _zone_names(schema: dict[str, Any]) -> None:
    # The schema lists the names (about 600), so a client or a fuzzer knows exactly what is valid.
    schema["enum"] = sorted(known_timezones())


#: An IANA zone name, checked against the tz database (unknown or malformed: a 422 in the API).
Timezone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TIMEZONE_MAX_LENGTH),
    AfterValidator(check_timezone),
    Field(
        description="IANA time zone name of the tz database, e.g. Europe/Paris",
        json_schema_extra=_zone_names,
    ),
]
