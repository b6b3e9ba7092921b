"""The wire envelope of an event on Kafka: its header names and how they are built and read.

The value of a record is the event's JSON (`app.core.events`); the key is the user id; these
headers let a consumer route, dedupe and trace a record without decoding its value. The relay
writes them, the mailer and its dead-letter wrapper read them, and the AsyncAPI document
(`app.core.schema_export`) describes them, all from these constants.

Every record is also a CloudEvent in the Kafka protocol binding's binary content mode: `ce_*`
headers carry the attributes, `content-type` is its `datacontenttype`, the value stays the
event's exact JSON. The relay derives the required attributes from the row's columns; `ce_time`
and `ce_subject`, which only the event knows, are recorded with the row when it is written
(`recorded_headers`), like the trace context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from app.core.events import Event

EVENT_TYPE_HEADER: Final = "event_type"
EVENT_ID_HEADER: Final = "event_id"
CONTENT_TYPE_HEADER: Final = "content-type"
#: W3C Trace Context of the change, recorded with the outbox row where a trace was active.
TRACEPARENT_HEADER: Final = "traceparent"
#: On a digest: the user's local day it covers (ISO date), which the email names. It is recorded
#: by the scheduler, which knows the user's zone; the event itself keeps its documented shape.
DIGEST_DAY_HEADER: Final = "digest_day"
TRACESTATE_HEADER: Final = "tracestate"
JSON_CONTENT_TYPE: Final = "application/json"

# CloudEvents 1.0, Kafka protocol binding, binary content mode.
CE_SPECVERSION_HEADER: Final = "ce_specversion"
CE_ID_HEADER: Final = "ce_id"
CE_TYPE_HEADER: Final = "ce_type"
CE_SOURCE_HEADER: Final = "ce_source"
CE_TIME_HEADER: Final = "ce_time"
CE_SUBJECT_HEADER: Final = "ce_subject"
CLOUDEVENTS_SPECVERSION: Final = "1.0"
#: `source` of every event: one producer, the system; `source` + `id` is unique per event.
CLOUDEVENTS_SOURCE: Final = "/eventful-todo"

#: Headers every record carries; a header recorded with the row can never override them.
REQUIRED_HEADERS: Final = (
    EVENT_TYPE_HEADER,
    EVENT_ID_HEADER,
    CONTENT_TYPE_HEADER,
    CE_SPECVERSION_HEADER,
    CE_ID_HEADER,
    CE_TYPE_HEADER,
    CE_SOURCE_HEADER,
)
_REQUIRED = frozenset(REQUIRED_HEADERS)
_JSON = JSON_CONTENT_TYPE.encode()
_SPECVERSION = CLOUDEVENTS_SPECVERSION.encode()
_SOURCE = CLOUDEVENTS_SOURCE.encode()

type Headers = Sequence[tuple[str, bytes]]


def envelope_headers(
    *, event_type: str, event_id: str, recorded: Mapping[str, object] | None = None
) -> list[tuple[str, bytes]]:
    """The headers of one record: the required ones, then those recorded with its row."""
    kind, ident = event_type.encode(), event_id.encode()
    headers = [
        (EVENT_TYPE_HEADER, kind),
        (EVENT_ID_HEADER, ident),
        (CONTENT_TYPE_HEADER, _JSON),
        (CE_SPECVERSION_HEADER, _SPECVERSION),
        (CE_ID_HEADER, ident),
        (CE_TYPE_HEADER, kind),
        (CE_SOURCE_HEADER, _SOURCE),
    ]
    if recorded:  # ce_time, ce_subject and, where a trace was active, a traceparent
        headers += [(k, str(v).encode()) for k, v in recorded.items() if k not in _REQUIRED]
    return headers


def subject(event: Event) -> str:
    """The CloudEvents `subject`: the task a task event is about, else the user."""
    task_id = getattr(event, "task_id", None)
    return f"tasks/{task_id}" if task_id is not None else f"users/{event.user_id}"


def cloudevent_headers(event: Event, *, occurred_at: str) -> dict[str, str]:
    """What is recorded with the row for the relay: `ce_time` (the event's JSON `occurred_at`,
    RFC 3339 in UTC) and `ce_subject`."""
    return {CE_TIME_HEADER: occurred_at, CE_SUBJECT_HEADER: subject(event)}


def header(headers: Headers, name: str) -> bytes | None:
    """The first value of header `name`, or None when the record has none."""
    for key, value in headers:
        if key == name:
            return value
    return None
