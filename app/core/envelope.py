"""The wire envelope of an event on Kafka: its header names and how they are built and read.

The value of a record is the event's JSON (`app.core.events`); the key is the user id; these
headers let a consumer route, dedupe and trace a record without decoding its value. The relay
writes them, the mailer and its dead-letter wrapper read them, and the AsyncAPI document
(`app.core.schema_export`) describes them, all from these constants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

EVENT_TYPE_HEADER: Final = "event_type"
EVENT_ID_HEADER: Final = "event_id"
CONTENT_TYPE_HEADER: Final = "content-type"
#: W3C Trace Context of the change, recorded with the outbox row where a trace was active.
TRACEPARENT_HEADER: Final = "traceparent"
#: On a digest: the user's local day it covers (ISO date), which the email names. It is recorded
#: by the scheduler, which knows the user's zone; the event itself keeps its documented shape.
DIGEST_DAY_HEADER: Final = "digest_day"
JSON_CONTENT_TYPE: Final = "application/json"

#: Headers every record carries; a header recorded with the row can never override them.
REQUIRED_HEADERS: Final = (EVENT_TYPE_HEADER, EVENT_ID_HEADER, CONTENT_TYPE_HEADER)
_REQUIRED = frozenset(REQUIRED_HEADERS)
_JSON = JSON_CONTENT_TYPE.encode()

type Headers = Sequence[tuple[str, bytes]]


def envelope_headers(
    *, event_type: str, event_id: str, recorded: Mapping[str, object] | None = None
) -> list[tuple[str, bytes]]:
    """The headers of one record: the required ones, then those recorded with its row."""
    headers = [
        (EVENT_TYPE_HEADER, event_type.encode()),
        (EVENT_ID_HEADER, event_id.encode()),
        (CONTENT_TYPE_HEADER, _JSON),
    ]
    if recorded:  # e.g. a traceparent
        headers += [(k, str(v).encode()) for k, v in recorded.items() if k not in _REQUIRED]
    return headers


def header(headers: Headers, name: str) -> bytes | None:
    """The first value of header `name`, or None when the record has none."""
    for key, value in headers:
        if key == name:
            return value
    return None
