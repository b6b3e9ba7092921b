"""Export the event contracts of `app.core.events` as documents other teams and tools can read.

`python -m app.core.schema_export` writes `docs/events.schema.json` (JSON Schema 2020-12 of every
event) and `docs/asyncapi.yaml` (AsyncAPI 3.0: topic `events`, one message per event type, its key
and headers); `--check` only compares and exits 1 when the committed documents have drifted.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # no stubs in the locked deps
from pydantic import TypeAdapter

from app.core import events as ev
from app.core.envelope import (
    CE_ID_HEADER,
    CE_SOURCE_HEADER,
    CE_SPECVERSION_HEADER,
    CE_SUBJECT_HEADER,
    CE_TIME_HEADER,
    CE_TYPE_HEADER,
    CLOUDEVENTS_SOURCE,
    CLOUDEVENTS_SPECVERSION,
    CONTENT_TYPE_HEADER,
    DIGEST_DAY_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    JSON_CONTENT_TYPE,
    REQUIRED_HEADERS,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    subject,
)
from app.core.events import (
    DAILY_DIGEST_REQUESTED,
    EVENT_TYPES,
    AnyEvent,
    DailyDigestRequested,
    Event,
)
from app.core.outbox import DEFAULT_TOPIC

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA_PATH = DOCS / "events.schema.json"
ASYNCAPI_PATH = DOCS / "asyncapi.yaml"
CONTRACT_VERSION = "1.0.0"
ASYNCAPI_SCHEMAS = "#/components/schemas/{model}"
KAFKA_BINDING_VERSION = "0.5.0"
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _wire_schema(ref_template: str) -> dict[str, Any]:
    """The union's schema as the JSON on the wire looks: every envelope field always present."""
    schema = TypeAdapter(AnyEvent).json_schema(mode="serialization", ref_template=ref_template)
    names = {model.__name__ for model in EVENT_TYPES}
    for name, definition in schema["$defs"].items():
        if name in names:
            # Producers always serialise the defaulted envelope fields (event_id, type,
            # occurred_at), so a consumer may rely on them; Pydantic lists only undefaulted ones.
            definition["required"] = list(definition["properties"])
            # `occurred_at` is normalised to UTC, which Pydantic writes with a trailing "Z".
            definition["properties"]["occurred_at"]["pattern"] = "Z$"
    return schema


def events_json_schema() -> dict[str, Any]:
    """One JSON Schema document: `oneOf` the event types, discriminated by `type`."""
    schema = _wire_schema("#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://eventful-todo.example/schemas/events.schema.json",
        "title": "Eventful TODO domain events",
        "description": (
            f"Every value on the Kafka topic `{DEFAULT_TOPIC}` is one of these JSON objects. "
            "Unknown fields are refused. Generated from app/core/events.py by "
            "`python -m app.core.schema_export`; do not edit by hand."
        ),
        **schema,
    }


def example_events() -> list[Event]:
    """One fixed, realistic instance of every event type (documentation and contract tests)."""
    user = uuid.UUID("0b9f4a8e-3c1d-4e2f-9a7b-5c6d7e8f9a0b")
    task = uuid.UUID("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
    at = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    event_ids = [uuid.UUID(int=0x7E57_0000_0000_4000_8000_0000_0000_0000 + n) for n in range(6)]
    return [
        ev.UserRegistered(
            event_id=event_ids[0], occurred_at=at, user_id=user, email="ann@example.com"
        ),
        ev.TaskCreated(
            event_id=event_ids[1], occurred_at=at, user_id=user, task_id=task, title="Buy milk"
        ),
        ev.TaskUpdated(
            event_id=event_ids[2], occurred_at=at, user_id=user, task_id=task, title="Buy oat milk"
        ),
        ev.TaskCompleted(event_id=event_ids[3], occurred_at=at, user_id=user, task_id=task),
        ev.TaskReopened(event_id=event_ids[4], occurred_at=at, user_id=user, task_id=task),
        ev.TaskDeleted(event_id=event_ids[5], occurred_at=at, user_id=user, task_id=task),
        ev.UserPreferencesChanged(
            event_id=uuid.UUID(int=0x7E57_0000_0000_4000_8000_0000_0000_0006),
            occurred_at=at,
            user_id=user,
            timezone="Asia/Tokyo",
            digest_enabled=True,
            cause="settings",
        ),
        DailyDigestRequested(
            event_id=DailyDigestRequested.id_for(user, date(2026, 1, 1)),
            occurred_at=datetime(2026, 1, 2, 0, 0, tzinfo=UTC),
            user_id=user,
            email="ann@example.com",
            stats=ev.DigestStats(total=3, done=1, undone=2),
            undone_titles=["Buy oat milk", "Call the plumber"],
        ),
    ]


def _message_name(model: type[Event]) -> str:
    return model.__name__[0].lower() + model.__name__[1:]


def _headers(example: Event) -> dict[str, Any]:
    event_type = example.type
    about = subject(example).split("/")[0]  # the collection of what the event is about
    return {
        "type": "object",
        "required": list(REQUIRED_HEADERS),
        "properties": {
            EVENT_TYPE_HEADER: {"type": "string", "const": event_type},
            EVENT_ID_HEADER: {
                "type": "string",
                "format": "uuid",
                "description": "Equals the payload's event_id",
            },
            CONTENT_TYPE_HEADER: {"type": "string", "const": JSON_CONTENT_TYPE},
            CE_SPECVERSION_HEADER: {
                "type": "string",
                "const": CLOUDEVENTS_SPECVERSION,
                "description": "CloudEvents binary content mode (Kafka protocol binding)",
            },
            CE_ID_HEADER: {
                "type": "string",
                "format": "uuid",
                "description": "CloudEvents id: equals event_id",
            },
            CE_TYPE_HEADER: {
                "type": "string",
                "const": event_type,
                "description": "CloudEvents type: equals event_type",
            },
            CE_SOURCE_HEADER: {
                "type": "string",
                "const": CLOUDEVENTS_SOURCE,
                "description": "CloudEvents source: this system",
            },
            CE_TIME_HEADER: {
                "type": "string",
                "format": "date-time",
                "description": "CloudEvents time: equals the payload's occurred_at (recorded "
                "with the outbox row; absent only on rows written before it was)",
            },
            CE_SUBJECT_HEADER: {
                "type": "string",
                "pattern": f"^{about}/{UUID_PATTERN}$",
                "description": f"CloudEvents subject: the {about[:-1]} the event is about",
            },
            TRACEPARENT_HEADER: {
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": "W3C Trace Context of the span the event was written in, present "
                "when tracing was on: the creation context of the message",
            },
            TRACESTATE_HEADER: {
                "type": "string",
                "description": "W3C Trace Context vendor state, beside traceparent when the "
                "trace had any",
            },
            **(_DIGEST_HEADERS if event_type == DAILY_DIGEST_REQUESTED else {}),
        },
    }


_DIGEST_HEADERS: dict[str, Any] = {
    DIGEST_DAY_HEADER: {
        "type": "string",
        "format": "date",
        "description": "The user's local day the digest covers, in their timezone; the email"
        " names it (absent on digests recorded before it existed)",
    }
}


def _message(model: type[Event], example: Event) -> dict[str, Any]:
    event_type = example.type
    return {
        "name": event_type,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip(),
        "contentType": JSON_CONTENT_TYPE,
        "headers": _headers(example),
        "payload": {"$ref": ASYNCAPI_SCHEMAS.format(model=model.__name__)},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": "The user id: all of a user's events share a partition",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": event_type,
                "headers": {
                    EVENT_TYPE_HEADER: event_type,
                    EVENT_ID_HEADER: str(example.event_id),
                    CONTENT_TYPE_HEADER: JSON_CONTENT_TYPE,
                },
                "payload": example.model_dump(mode="json"),
            }
        ],
    }


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 description of the `events` topic, built from the same models."""
    examples = {type(event): event for event in example_events()}
    messages = {_message_name(model): _message(model, examples[model]) for model in EVENT_TYPES}
    refs = [{"$ref": f"#/channels/events/messages/{name}"} for name in messages]
    digest = _message_name(DailyDigestRequested)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Eventful TODO events",
            "version": CONTRACT_VERSION,
            "description": (
                "Domain events of Eventful TODO. The API and the scheduler write them to the "
                "PostgreSQL outbox in the transaction that makes the change; the relay publishes "
                "them to Kafka at least once, in order per user. Consumers dedupe on event_id. "
                "Generated from app/core/events.py by `python -m app.core.schema_export`; "
                "do not edit by hand."
            ),
        },
        "defaultContentType": JSON_CONTENT_TYPE,
        "servers": {
            "development": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "Kafka in KRaft mode from docker compose or scripts/services.sh",
            }
        },
        "channels": {
            "events": {
                "address": DEFAULT_TOPIC,
                "title": "All domain events",
                "description": "One topic for every event type; the message key is the user id.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            "publishEvents": {
                "action": "send",
                "title": "The outbox relay publishes every committed event",
                "channel": {"$ref": "#/channels/events"},
                "messages": refs,
            },
            "receiveDigestRequests": {
                "action": "receive",
                "title": "The mailer sends one email per digest request (others are ignored)",
                "channel": {"$ref": "#/channels/events"},
                "messages": [{"$ref": f"#/channels/events/messages/{digest}"}],
            },
        },
        "components": {
            "messages": messages,
            "schemas": _wire_schema(ASYNCAPI_SCHEMAS)["$defs"],
        },
    }


def render_json_schema() -> str:
    return json.dumps(events_json_schema(), indent=2, ensure_ascii=False) + "\n"


def render_asyncapi() -> str:
    header = (
        "# Generated from app/core/events.py by `python -m app.core.schema_export`; "
        "do not edit by hand.\n"
    )
    body = yaml.safe_dump(asyncapi_document(), sort_keys=False, allow_unicode=True, width=100)
    return header + str(body)


def rendered_documents() -> dict[Path, str]:
    """Every contract document, as its file should read."""
    return {SCHEMA_PATH: render_json_schema(), ASYNCAPI_PATH: render_asyncapi()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.core.schema_export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the documents are stale")
    args = parser.parse_args(argv)
    stale = [
        path
        for path, text in rendered_documents().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    if args.check:
        for path in stale:
            sys.stdout.write(
                f"stale: {path.relative_to(DOCS.parent)}; run python -m app.core.schema_export\n"
            )
        return 1 if stale else 0
    for path, text in rendered_documents().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(DOCS.parent)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
