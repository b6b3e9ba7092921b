"""Request bodies normalise what they accept and refuse what they should not."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from app.api.schemas import LoginForm, LoginJson, Registration, TaskCreate, TaskOut, TaskPatch

pytestmark = pytest.mark.unit


def test_registration_trims_and_lower_cases_the_email() -> None:
    body = Registration(email="  Grace.Hopper@Navy.MIL ", password="long enough")

    assert body.email == "grace.hopper@navy.mil"


def test_login_normalises_the_email_the_same_way_without_validating_it() -> None:
    assert LoginJson(email=" Grace@Navy.MIL", password="x").email == "grace@navy.mil"
    assert LoginForm(username="Not An Email ", password="x").username == "not an email"


@pytest.mark.parametrize("password", ["7 chars", "x" * 129])
def test_registration_bounds_the_password_length(password: str) -> None:
    with pytest.raises(ValidationError):
        Registration(email="a@example.com", password=password)


def test_a_title_is_trimmed() -> None:
    assert TaskCreate(title="  tidy up \n").title == "tidy up"


def test_a_patch_remembers_which_fields_were_sent() -> None:
    assert TaskPatch.model_validate({"done": True}).model_fields_set == {"done"}


@pytest.mark.parametrize("body", [{"title": None}, {"done": None}, {"done": 1}, {"done": "true"}])
def test_a_patch_refuses_nulls_and_non_booleans(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TaskPatch.model_validate(body)


def test_responses_speak_utc_whatever_the_database_time_zone() -> None:
    berlin = timezone(timedelta(hours=1))
    task = TaskOut(
        id=uuid.uuid4(),
        title="t",
        done=True,
        created_at=datetime(2026, 11, 26, 9, 0, tzinfo=berlin),
        done_at=datetime(2026, 11, 26, 10, 0, tzinfo=berlin),
    )

    dumped = task.model_dump(mode="json")

    assert (dumped["created_at"], dumped["done_at"]) == (
        "2026-11-26T08:00:00Z",
        "2026-11-26T09:00:00Z",
    )
