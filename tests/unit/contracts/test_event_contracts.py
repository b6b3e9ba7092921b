"""Event contracts: the documented payloads, strictness, UTC timestamps, the generated documents."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.core.events import (
    EVENT_TYPES,
    DailyDigestRequested,
    TaskCompleted,
    TaskCreated,
    decode_event,
)
from app.core.schema_export import (
    ASYNCAPI_PATH,
    SCHEMA_PATH,
    asyncapi_document,
    events_json_schema,
    example_events,
    main,
    rendered_documents,
)

pytestmark = pytest.mark.unit

USER = "5f0c6a34-1f7e-4b8e-9d55-0c9a2f3e4b71"
TASK = "a3e1c2d4-6b7f-4a8e-9c0d-1e2f3a4b5c6d"
# The payloads docs/contracts.md shows, with concrete values in place of "uuid", "ISO8601" and
# "string".
CONTRACT_PAYLOADS: dict[str, tuple[type, str]] = {
    "task.created": (
        TaskCreated,
        '{"event_id":"0d7e5f3a-8c2b-4e6d-9a1f-3b5c7d9e1f20","type":"task.created",'
        f'"occurred_at":"2026-01-01T10:15:30.123456Z","user_id":"{USER}","task_id":"{TASK}",'
        '"title":"Buy <milk> & \\"bread\\" 🥖"}',
    ),
    "task.completed": (
        TaskCompleted,
        '{"event_id":"1e8f6a4b-9d3c-4f7e-8b2a-4c6d8e0f2a31","type":"task.completed",'
        f'"occurred_at":"2026-01-01T11:00:00Z","user_id":"{USER}","task_id":"{TASK}"}}',
    ),
    "email.daily_digest.requested": (
        DailyDigestRequested,
        '{"event_id":"2f9a7b5c-0e4d-5a8f-9c3b-5d7e9f1a3b42",'
        '"type":"email.daily_digest.requested","occurred_at":"2026-01-02T00:00:00Z",'
        f'"user_id":"{USER}","email":"ann@example.com",'
        '"stats":{"total":3,"done":1,"undone":2},"undone_titles":["Buy milk","Call mum"]}',
    ),
}
CONTRACT_FIELDS = {
    "task.created": {"event_id", "type", "occurred_at", "user_id", "task_id", "title"},
    "task.completed": {"event_id", "type", "occurred_at", "user_id", "task_id"},
    "email.daily_digest.requested": {
        "event_id",
        "type",
        "occurred_at",
        "user_id",
        "email",
        "stats",
        "undone_titles",
    },
}


@pytest.fixture(scope="module")
def schema_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def asyncapi_payload_validator(document: dict[str, Any], model: str) -> Draft202012Validator:
    """Validates against `#/components/schemas/<model>` with refs resolved inside the document."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"urn:asyncapi#/components/schemas/{model}"}, registry=registry
    )


@pytest.mark.parametrize("event_type", CONTRACT_PAYLOADS)
def test_spec_payload_decodes_to_its_model_and_round_trips_exactly(event_type: str) -> None:
    model, raw = CONTRACT_PAYLOADS[event_type]

    event = decode_event(raw)

    assert type(event) is model
    assert json.loads(event.model_dump_json()) == json.loads(raw)
    assert set(json.loads(event.model_dump_json())) == CONTRACT_FIELDS[event_type]


@pytest.mark.parametrize("event_type", CONTRACT_PAYLOADS)
def test_spec_payload_validates_against_the_published_json_schema(
    event_type: str, schema_validator: Draft202012Validator
) -> None:
    schema_validator.validate(json.loads(CONTRACT_PAYLOADS[event_type][1]))


@pytest.mark.parametrize("event_type", CONTRACT_PAYLOADS)
def test_an_unknown_field_is_refused_by_model_and_schema(
    event_type: str, schema_validator: Draft202012Validator
) -> None:
    payload = {**json.loads(CONTRACT_PAYLOADS[event_type][1]), "is_admin": True}

    with pytest.raises(ValidationError, match="is_admin"):
        decode_event(json.dumps(payload))
    assert not schema_validator.is_valid(payload)


@pytest.mark.parametrize("missing", ["event_id", "occurred_at", "stats", "undone_titles"])
def test_a_digest_without_a_required_field_is_refused_by_the_schema(
    missing: str, schema_validator: Draft202012Validator
) -> None:
    payload = json.loads(CONTRACT_PAYLOADS["email.daily_digest.requested"][1])
    del payload[missing]

    assert not schema_validator.is_valid(payload)


@pytest.mark.parametrize(
    "missing",
    [
        "event_id",
        "occurred_at",
        "stats",
        "undone_titles",
    ],
)
def test_a_digest_without_a_required_field_is_refused_when_decoded(missing: str) -> None:
    payload = json.loads(CONTRACT_PAYLOADS["email.daily_digest.requested"][1])
    del payload[missing]

    with pytest.raises(ValidationError):
        decode_event(json.dumps(payload))


def test_a_negative_count_in_digest_stats_is_refused() -> None:
    payload = json.loads(CONTRACT_PAYLOADS["email.daily_digest.requested"][1])
    payload["stats"]["undone"] = -1

    with pytest.raises(ValidationError):
        decode_event(json.dumps(payload))


def test_occurred_at_is_written_as_utc_iso_8601_whatever_zone_it_was_built_in() -> None:
    moscow = timezone(timedelta(hours=3))
    event = TaskCompleted(
        user_id=uuid.UUID(USER),
        task_id=uuid.UUID(TASK),
        occurred_at=datetime(2026, 1, 1, 3, 0, tzinfo=moscow),
    )

    written = json.loads(event.model_dump_json())["occurred_at"]

    assert written == "2026-01-01T00:00:00Z"
    assert datetime.fromisoformat(written) == datetime(2026, 1, 1, tzinfo=UTC)


def test_an_occurred_at_without_a_zone_is_refused() -> None:
    payload = json.loads(CONTRACT_PAYLOADS["task.completed"][1])
    payload["occurred_at"] = "2026-01-01T11:00:00"

    with pytest.raises(ValidationError, match="timezone"):
        decode_event(json.dumps(payload))


def test_an_occurred_at_outside_utc_is_refused_by_the_schema(
    schema_validator: Draft202012Validator,
) -> None:
    payload = json.loads(CONTRACT_PAYLOADS["task.completed"][1])
    payload["occurred_at"] = "2026-01-01T14:00:00+03:00"

    assert not schema_validator.is_valid(payload)


def test_digest_event_id_depends_only_on_user_and_day() -> None:
    user, other = uuid.UUID(USER), uuid.uuid4()
    day = date(2026, 1, 1)

    first = DailyDigestRequested.id_for(user, day)

    assert first == DailyDigestRequested.id_for(user, date.fromisoformat("2026-01-01"))
    assert first.version == 5
    assert first != DailyDigestRequested.id_for(user, day + timedelta(days=1))
    assert first != DailyDigestRequested.id_for(other, day)


def test_every_event_type_has_an_example_valid_against_both_documents(
    schema_validator: Draft202012Validator,
) -> None:
    document = asyncapi_document()
    examples = example_events()

    assert {type(e) for e in examples} == set(EVENT_TYPES)
    for event in examples:
        payload = event.model_dump(mode="json")
        schema_validator.validate(payload)
        asyncapi_payload_validator(document, type(event).__name__).validate(payload)


def test_asyncapi_describes_every_event_as_a_message_on_the_events_topic() -> None:
    document = yaml.safe_load(ASYNCAPI_PATH.read_text(encoding="utf-8"))

    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["events"]["address"] == "events"
    messages = document["components"]["messages"].values()
    assert sorted(m["name"] for m in messages) == sorted(
        m.model_fields["type"].default for m in EVENT_TYPES
    )
    for message in messages:
        headers = message["headers"]
        assert headers["properties"]["event_type"]["const"] == message["name"]
        assert set(headers["required"]) == {
            "event_type",
            "event_id",
            "content-type",
            *("ce_specversion", "ce_id", "ce_type", "ce_source"),
        }
        assert headers["properties"]["ce_type"]["const"] == message["name"]
        assert {"ce_time", "ce_subject", "traceparent", "tracestate"} <= set(headers["properties"])
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"


def test_json_schema_requires_every_field_that_is_always_on_the_wire() -> None:
    definitions = events_json_schema()["$defs"]

    for model in EVENT_TYPES:
        definition = definitions[model.__name__]
        assert set(definition["required"]) == set(model.model_fields)
        assert definition["additionalProperties"] is False


def test_committed_documents_match_the_models() -> None:
    for path, expected in rendered_documents().items():
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} is stale: run `python -m app.core.schema_export` and commit the result"
        )


def test_check_mode_reports_the_committed_documents_as_current() -> None:
    assert main(["--check"]) == 0
