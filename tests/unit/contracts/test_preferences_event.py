"""The `user.preferences_changed` contract: exact fields, known causes, valid against the schema."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from app.core.events import UserPreferencesChanged, decode_event
from app.core.schema_export import SCHEMA_PATH

pytestmark = pytest.mark.unit

PAYLOAD = (
    '{"event_id":"3a0b8c6d-1e2f-4a5b-9c8d-7e6f5a4b3c2d","type":"user.preferences_changed",'
    '"occurred_at":"2026-12-01T15:00:00Z","user_id":"5f0c6a34-1f7e-4b8e-9d55-0c9a2f3e4b71",'
    '"timezone":"Asia/Tokyo","digest_enabled":false,"cause":"unsubscribe"}'
)


def test_the_payload_decodes_and_round_trips_to_the_same_json() -> None:
    event = decode_event(PAYLOAD)

    assert isinstance(event, UserPreferencesChanged)
    assert (event.timezone, event.digest_enabled, event.cause) == (
        "Asia/Tokyo",
        False,
        "unsubscribe",
    )
    assert json.loads(event.model_dump_json()) == json.loads(PAYLOAD)
    assert event.key == "5f0c6a34-1f7e-4b8e-9d55-0c9a2f3e4b71"


def test_the_payload_is_valid_against_the_published_schema() -> None:
    validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))

    assert list(validator.iter_errors(json.loads(PAYLOAD))) == []
    bad = {**json.loads(PAYLOAD), "cause": "whim"}
    assert list(validator.iter_errors(bad)) != []


@pytest.mark.parametrize(
    "change",
    [{"cause": "whim"}, {"digest_enabled": "no"}, {"extra": 1}, {"timezone": None}],
)
def test_unknown_causes_wrong_types_and_extra_fields_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        decode_event(json.dumps({**json.loads(PAYLOAD), **change}))


@pytest.mark.parametrize("missing", ["timezone", "digest_enabled", "cause", "event_id"])
def test_every_field_is_required_on_the_wire(missing: str) -> None:
    document = json.loads(PAYLOAD)
    del document[missing]

    with pytest.raises(ValidationError):
        decode_event(json.dumps(document))
