"""The wire envelope: the headers every record carries, and the event type names."""

from __future__ import annotations

from typing import get_args

import pytest

from app.core.envelope import REQUIRED_HEADERS, envelope_headers, header
from app.core.events import EVENT_TYPES, Event

pytestmark = pytest.mark.unit


def test_the_required_headers_come_first_and_a_recorded_one_cannot_override_them() -> None:
    headers = envelope_headers(
        event_type="task.created",
        event_id="e1",
        recorded={"event_id": "forged", "traceparent": "00-1-2-01"},
    )
    assert [name for name, _ in headers] == [*REQUIRED_HEADERS, "traceparent"]
    assert header(headers, "event_id") == b"e1"
    assert header(headers, "content-type") == b"application/json"
    assert header(headers, "missing") is None


@pytest.mark.parametrize("model", EVENT_TYPES, ids=lambda model: model.__name__)
def test_each_event_type_name_constant_is_the_literal_its_model_declares(
    model: type[Event],
) -> None:
    field = model.model_fields["type"]
    assert get_args(field.annotation) == (field.default,)
